"""Test protocols: the frame indices and crop boxes of the TSM repo's
accurate protocol and of mmaction2's zoo protocol, on a synthetic video,
against the originals' own formulas; the config rewrite against mmaction2's
own config file."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.helpers import PACK, RECIPE
from tsm_plugin.datasets.test_protocols import (
    apply_test_protocol,
    describe_protocol,
    resolve_protocol,
)
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.utils.config import load_config, set_num_frames

# 74 x 48: short side 48 -> 256 gives a long side of 394.67, which the TSM
# repo truncates (394) and mmaction2 rounds (395), and whose crop offsets
# differ too: the two protocols are told apart on this video.
HEIGHT, WIDTH, TOTAL = 48, 74, 21
SIDE = 256


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    from tsm_plugin.testing.synthetic_ssv2.encode import write_webm

    rng = np.random.RandomState(0)
    frames = [
        rng.randint(0, 256, (HEIGHT, WIDTH, 3), np.uint8) for _ in range(TOTAL)
    ]
    path = tmp_path_factory.mktemp('protocols') / 'v.webm'
    assert write_webm(str(path), frames, 12, WIDTH, HEIGHT) == TOTAL
    return str(path)


def tsm_twice_sample(num_frames, num_segments):
    """TSM repo ops/dataset.py _get_test_indices, twice_sample, new_length=1
    (without its `+ 1`, which names 1-based image files)."""
    new_length = 1
    tick = (num_frames - new_length + 1) / float(num_segments)
    return [int(tick / 2.0 + tick * x) for x in range(num_segments)] + [
        int(tick * x) for x in range(num_segments)
    ]


def mmaction_twice_sample(total_frames, num_clips):
    """mmaction2 SampleFrames(clip_len=1, twice_sample=True, test_mode=True):
    _get_test_clips, then transform (loop, start_index 0, int32)."""
    avg_interval = total_frames / float(num_clips)
    base_offsets = np.arange(num_clips) * avg_interval
    clip_offsets = base_offsets + avg_interval / 2.0
    clip_offsets = np.concatenate([clip_offsets, base_offsets])
    frame_inds = np.mod(
        clip_offsets[:, None] + np.arange(1)[None, :], total_frames
    )
    return (np.concatenate(frame_inds) + 0).astype(np.int32).tolist()


def tsm_full_res_boxes(w, h, scale_size, crop_size):
    """TSM repo: torchvision Resize(scale_size) on a PIL image, then
    ops/transforms.py GroupFullResSample offsets (left, right, centre)."""
    if w < h:
        ow, oh = scale_size, int(scale_size * h / w)
    else:
        oh, ow = scale_size, int(scale_size * w / h)
    w_step = (ow - crop_size) // 4
    h_step = (oh - crop_size) // 4
    offsets = [(0 * w_step, 2 * h_step), (4 * w_step, 2 * h_step)]
    offsets.append((2 * w_step, 2 * h_step))
    return (ow, oh), [(x, y, x + crop_size, y + crop_size) for x, y in offsets]


def mmaction_three_crop_boxes(w, h, short_side, crop_size):
    """mmaction2: Resize(scale=(-1, short_side)) (mmcv rescale_size, rounded)
    then ThreeCrop (offsets left, right, middle)."""
    scale_factor = min(np.inf / max(h, w), short_side / min(h, w))
    ow, oh = int(w * scale_factor + 0.5), int(h * scale_factor + 0.5)
    if crop_size == oh:
        w_step = (ow - crop_size) // 2
        offsets = [(0, 0), (2 * w_step, 0), (w_step, 0)]
    else:
        h_step = (oh - crop_size) // 2
        offsets = [(0, 0), (0, 2 * h_step), (0, h_step)]
    return (ow, oh), [(x, y, x + crop_size, y + crop_size) for x, y in offsets]


def _run(pipeline, video):
    from mmengine.dataset import Compose

    from tsm_plugin.registration import register_all_modules

    register_all_modules()
    info = dict(filename=video, label=0, start_index=0, modality='RGB')
    return Compose(pipeline)(info)


def _decoded(video, inds):
    from tsm_plugin.datasets.video_io import open_video

    reader = open_video(video, 'pyav', 1)
    try:
        return reader.get_frames(list(inds))
    finally:
        reader.close()


def _protocol_pipeline(name, frames, side=SIDE):
    cfg = load_config(RECIPE)
    set_num_frames(cfg, frames)
    apply_test_protocol(cfg, dict(type=name, short_side=side))
    return cfg.test_dataloader.dataset.pipeline


@pytest.mark.parametrize('frames', [8, 16])
def test_accurate_draws_the_tsm_repos_frames_and_crops(video, frames):
    pipeline = _protocol_pipeline('accurate', frames)
    out = _run(pipeline[:-2], video)
    assert out['total_frames'] == TOTAL
    inds = tsm_twice_sample(TOTAL, frames)
    assert out['frame_inds'].tolist() == inds
    (ow, oh), boxes = tsm_full_res_boxes(WIDTH, HEIGHT, SIDE, SIDE)
    assert (ow, oh) == (394, 256)
    assert boxes == [(0, 0, 256, 256), (136, 0, 392, 256), (68, 0, 324, 256)]
    views = len(inds)
    assert out['crop_bbox'].tolist() == [
        list(b) for b in boxes for _ in range(views)
    ]
    # the pixels: Pillow's bilinear resize (torchvision's Resize on a PIL
    # image) then the crop, crop-major: [crop][clip][frame]
    imgs = out['imgs']
    assert imgs.shape == (3 * views, SIDE, SIDE, 3)
    resized = [
        Image.fromarray(f).resize((ow, oh), Image.BILINEAR)
        for f in _decoded(video, inds)
    ]
    for k, box in enumerate(boxes):
        for j, frame in enumerate(resized):
            want = np.asarray(frame.crop(box))
            np.testing.assert_array_equal(imgs[k * views + j], want)
    packed = _run(pipeline, video)
    assert packed['inputs'].shape == (6 * frames, 3, SIDE, SIDE)


@pytest.mark.parametrize('frames', [8, 16])
def test_zoo_draws_mmaction2s_frames_and_crops(video, frames):
    pipeline = _protocol_pipeline('zoo', frames)
    out = _run(pipeline[:-2], video)
    inds = mmaction_twice_sample(TOTAL, frames)
    assert inds == tsm_twice_sample(TOTAL, frames)  # the same rule
    assert out['frame_inds'].tolist() == inds
    (ow, oh), boxes = mmaction_three_crop_boxes(WIDTH, HEIGHT, SIDE, SIDE)
    assert (ow, oh) == (395, 256)  # TSM: 394
    assert boxes == [(0, 0, 256, 256), (138, 0, 394, 256), (69, 0, 325, 256)]
    views = len(inds)
    assert out['crop_bbox'].tolist() == [
        list(b) for b in boxes for _ in range(views)
    ]
    imgs = out['imgs']
    frames_ = _decoded(video, inds)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        for j, frame in enumerate(frames_):
            resized = cv2.resize(
                frame, (ow, oh), interpolation=cv2.INTER_LINEAR
            )
            np.testing.assert_array_equal(
                imgs[k * views + j], resized[y0:y1, x0:x1]
            )


def test_full_res_crops_of_a_portrait_frame_are_the_centre_three_times():
    """GroupFullResSample offsets only along the width: a portrait frame
    gets its centre crop three times, as in the TSM repo."""
    from tsm_plugin.datasets.test_protocols import TSMFullResSample

    imgs = [np.random.RandomState(1).randint(0, 256, (74, 48, 3), np.uint8)]
    out = TSMFullResSample(SIDE, SIDE)(dict(imgs=imgs))
    (ow, oh), boxes = tsm_full_res_boxes(48, 74, SIDE, SIDE)
    assert (ow, oh) == (256, 394)
    assert boxes == [(0, 68, 256, 324)] * 3
    assert out['crop_bbox'].tolist() == [list(b) for b in boxes]
    np.testing.assert_array_equal(out['imgs'][0], out['imgs'][2])


def test_zoo_rewrite_is_mmaction2s_own_sthv2_test_pipeline():
    """The recipe under `zoo` has mmaction2 1.x's own 16-frame SSv2 test
    steps (read from its config file) and its average_clips."""
    import mmaction
    from mmengine.config import Config

    zoo_file = (
        Path(mmaction.__file__).parent / '.mim/configs/recognition/tsm/'
        'tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py'
    )
    zoo = Config.fromfile(str(zoo_file))
    cfg = load_config(RECIPE)
    assert apply_test_protocol(cfg, 'zoo') == dict(type='zoo', short_side=256)
    ours = cfg.test_dataloader.dataset.pipeline
    # decoder aside (theirs decord, ours the recipe's), step for step
    assert [t.type for t in ours] == [
        'VideoInit',
        'SampleFrames',
        'VideoDecode',
        'Resize',
        'ThreeCrop',
        'FormatShape',
        'PackActionInputs',
    ]
    assert [t.type for t in zoo.test_pipeline][1::2] == [
        'SampleFrames',
        'Resize',
        'FormatShape',
    ]
    for i in (1, 3, 4, 5, 6):
        assert dict(ours[i]) == dict(zoo.test_pipeline[i])
    assert cfg.model.cls_head.average_clips == 'prob'
    assert zoo.model.cls_head.average_clips == 'prob'
    # the validation loader (training-time validation) keeps the efficient
    # protocol; the test loader no longer shares its dicts
    assert cfg.val_dataloader.dataset.pipeline[1].type == 'SegmentSampleFrames'
    # applying it again changes nothing
    before = cfg.test_dataloader.to_dict()
    apply_test_protocol(cfg)
    assert cfg.test_dataloader.to_dict() == before


def test_accurate_averages_logits_and_efficient_keeps_the_config():
    cfg = load_config(RECIPE)
    efficient = cfg.test_dataloader.to_dict()
    assert apply_test_protocol(cfg) == dict(type='efficient')
    assert cfg.test_dataloader.to_dict() == efficient
    assert cfg.model.cls_head.average_clips == 'prob'
    apply_test_protocol(cfg, 'accurate')
    assert cfg.model.cls_head.average_clips == 'score'  # TSM: no softmax
    steps = cfg.test_dataloader.dataset.pipeline
    assert dict(steps[3]) == dict(
        type='TSMFullResSample', short_side=256, crop_size=256
    )
    assert describe_protocol(cfg.test_protocol)['views'] == 6
    # a config-level choice: the name from the config, the size with it
    cfg = load_config(RECIPE)
    cfg.test_protocol = dict(type='zoo', short_side=32)
    assert resolve_protocol(None, cfg) == dict(type='zoo', short_side=32)
    assert resolve_protocol('accurate', cfg) == dict(
        type='accurate', short_side=32
    )


@pytest.mark.parametrize(
    'protocol, message',
    [
        (
            'fast',
            'test protocol must be one of efficient, accurate, zoo, '
            "got 'fast'",
        ),
        (
            dict(type='zoo', short_side=0),
            'test_protocol short_side must be an integer >= 1, got 0',
        ),
    ],
)
def test_bad_protocols_fail_in_one_line(protocol, message):
    with pytest.raises(ConfigValueError) as err:
        resolve_protocol(protocol)
    assert str(err.value) == message


def test_a_pipeline_without_sampler_cannot_take_a_protocol():
    cfg = load_config(RECIPE)
    cfg.test_dataloader.dataset.pipeline = [dict(type='VideoDecode'), *PACK]
    with pytest.raises(ConfigValueError, match='no frame sampler'):
        apply_test_protocol(cfg, 'zoo')
