"""The full pipeline: open -> sample -> decode -> mmaction2's augmentations.

The expected frames are rebuilt by hand from a plain PyAV decode, the
sampling rule, mmcv's resize and the crop box MultiScaleCrop drew.
"""

import json

import av
import mmcv
import numpy as np
import pytest
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import PACK, decode_steps, first_video, tsm_train_crops
from tsm_plugin.datasets import video_io
from tsm_plugin.datasets.video_io import VideoReadError

BACKENDS = ['pyav'] + (['decord'] if video_io.decord_available() else [])


def pipeline(num_clips, test_mode, backend='auto'):
    return (
        decode_steps(num_clips, test_mode, backend)
        + tsm_train_crops(32, 40)
        + PACK
    )


def run(transforms, results):
    """Run transforms; return (results before packing, packed)."""
    init_default_scope('mmaction')
    built = [TRANSFORMS.build(t) for t in transforms]
    for t in built[:-1]:
        results = t(results)
    return results, built[-1](dict(results))


def expected_frames(path, inds, crop_bbox):
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
    x1, y1, x2, y2 = crop_bbox
    out = []
    for i in inds:
        img = mmcv.imresize(frames[i], (53, 40))  # short side 40, w 64*40/48
        out.append(mmcv.imresize(img[y1:y2, x1:x2], (32, 32)))
    return np.stack(out).transpose(0, 3, 1, 2)  # NCHW


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize(
    'test_mode, num_clips', [(True, 8), (False, 16), (True, 32)]
)
def test_pipeline_gives_the_sampled_frames(
    synthetic_ssv2, backend, test_mode, num_clips
):
    path = first_video(synthetic_ssv2)
    with av.open(str(path)) as c:
        total = sum(1 for p in c.demux(video=0) if p.size)
    seg = total / num_clips
    np.random.seed(0)
    if test_mode:
        inds = np.floor(seg * (np.arange(num_clips) + 0.5)).astype(int)
    else:
        inds = np.floor(
            seg * np.arange(num_clips) + np.random.rand(num_clips) * seg
        ).astype(int)
    np.random.seed(0)  # the sampler draws first, then MultiScaleCrop
    results, packed = run(
        pipeline(num_clips, test_mode, backend),
        dict(filename=str(path), label=3, start_index=0, modality='RGB'),
    )
    assert results['total_frames'] == total
    assert results['frame_inds'].tolist() == inds.tolist()
    assert 'video_reader' not in results
    assert results['original_shape'] == (48, 64)
    if num_clips > total:  # a video shorter than num_clips: repeats
        assert len(set(inds.tolist())) < num_clips
    inputs = packed['inputs']
    assert tuple(inputs.shape) == (num_clips, 3, 32, 32)
    np.testing.assert_array_equal(
        inputs.numpy(), expected_frames(path, inds, results['crop_bbox'])
    )
    assert packed['data_samples'].gt_label.tolist() == [3]


def test_dataset_item_through_the_pipeline(synthetic_ssv2):
    init_default_scope('mmaction')
    ds = DATASETS.build(
        dict(
            type='SSv2Dataset',
            data_root=str(synthetic_ssv2),
            ann_file='labels/validation.json',
            label_file='labels/labels.json',
            data_prefix=dict(video='20bn-something-something-v2'),
            pipeline=pipeline(4, True),
            test_mode=True,
        )
    )
    labels = json.loads((synthetic_ssv2 / 'labels/labels.json').read_text())
    item = json.loads((synthetic_ssv2 / 'labels/validation.json').read_text())[
        1
    ]
    out = ds[1]
    assert tuple(out['inputs'].shape) == (4, 3, 32, 32)
    label = labels[item['template'].replace('[', '').replace(']', '')]
    assert out['data_samples'].gt_label.tolist() == [int(label)]
    assert out['data_samples'].video_id == item['id']


def test_a_bad_video_raises_videoreaderror(tmp_path):
    bad = tmp_path / 'bad.webm'
    bad.write_text('not a video')
    with pytest.raises(VideoReadError, match=f'cannot read video {bad}'):
        run(pipeline(4, True), dict(filename=str(bad), label=0))
