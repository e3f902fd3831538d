"""The fused crop-resize equals the stock resize/crop/resize chain: the same
random crop box and, up to one interpolation instead of two, the same
pixels; and the whole fast pipeline equals the stock one on real videos."""

import random

import cv2
import numpy as np
import pytest

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import PACK, decode_steps, tsm_train_crops
from tsm_plugin.datasets.crop_resize import crop_resize

# Single vs double bilinear interpolation on a blurred-noise texture: mean
# |diff| <= 0.6 grey levels, max <= 6 (measured); a crop box off by one
# source pixel gives a mean of ~4.7, so these bounds catch a wrong box.
MEAN_TOL, MAX_TOL = 1.0, 10

TRAIN = tsm_train_crops(224, 256)
TEST = [
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
]


def _build(cfgs):
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    return [TRANSFORMS.build(dict(c)) for c in cfgs]


def _frames(h=240, w=426, n=3, seed=0):
    """SSv2-sized frames of a blurred noise texture moving right."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(
        rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), 1.5
    )
    return [
        np.ascontiguousarray(np.roll(base, 3 * i, axis=1)) for i in range(n)
    ]


def _run(transforms, results):
    for t in transforms:
        results = t(results)
    return results


def _stock_and_fused(stock_cfgs, frames, seed):
    stock = _build(stock_cfgs)
    fused = _build([dict(type='FusedCropResize', transforms=stock_cfgs)])
    random.seed(seed)
    np.random.seed(seed)
    ref = _run(
        stock,
        dict(imgs=list(frames), img_shape=frames[0].shape[:2], modality='RGB'),
    )
    random.seed(seed)
    np.random.seed(seed)
    out = _run(fused, dict(imgs=list(frames), modality='RGB'))
    return ref, out


def _source_box(ref, src_shape):
    """The stock crop box (in resized pixels) in source pixels."""
    (h, w), (rh, rw) = src_shape, ref['resized']
    return ref['crop_bbox'] * np.array([w / rw, h / rh, w / rw, h / rh])


@pytest.mark.parametrize('seed', range(6))
def test_train_crop_matches_stock_box_and_pixels(seed):
    frames = _frames()
    # the stock Resize(-1, 256) of a 240x426 frame is 256x454
    ref, out = _stock_and_fused(TRAIN, frames, seed)
    ref['resized'] = (256, 454)
    np.testing.assert_allclose(
        out['crop_bbox'], _source_box(ref, (240, 426)), rtol=1e-5
    )
    stock = np.stack(ref['imgs']).astype(int)
    fused = out['imgs']
    assert fused.shape == (3, 224, 224, 3) and fused.dtype == np.uint8
    assert out['img_shape'] == (224, 224)
    diff = np.abs(stock - fused)
    assert diff.mean() <= MEAN_TOL and diff.max() <= MAX_TOL
    # the bound is tight enough to see a box one source pixel off
    shifted = crop_resize(frames, out['crop_bbox'] + [1, 0, 1, 0], (224, 224))
    assert np.abs(stock - shifted).mean() > 3 * MEAN_TOL


def test_different_seeds_draw_different_boxes_as_stock_does():
    boxes = {
        tuple(_stock_and_fused(TRAIN, _frames(n=1), s)[1]['crop_bbox'])
        for s in range(8)
    }
    assert len(boxes) > 3


def test_test_centre_crop_matches_stock():
    frames = _frames()
    ref, out = _stock_and_fused(TEST, frames, 0)
    # centre crop 224 of 256x454: x in [115, 339), y in [16, 240)
    assert ref['crop_bbox'].tolist() == [115, 16, 339, 240]
    ref['resized'] = (256, 454)
    np.testing.assert_allclose(
        out['crop_bbox'], _source_box(ref, (240, 426)), rtol=1e-5
    )
    diff = np.abs(np.stack(ref['imgs']).astype(int) - out['imgs'])
    assert diff.mean() <= MEAN_TOL and diff.max() <= MAX_TOL


def test_crop_resize_of_the_whole_frame_is_exact():
    frames = _frames(h=32, w=40, n=2)
    out = crop_resize(frames, (0, 0, 40, 32), (32, 40))
    assert np.array_equal(out, np.stack(frames))
    # half-size nearest sampling picks the pixel centres 1, 3, 5, ...
    half = crop_resize(frames, (0, 0, 40, 32), (16, 20), 'nearest')
    assert np.array_equal(half, np.stack(frames)[:, 1::2, 1::2])


def test_fused_flip_equals_flipping_and_maps_the_label():
    frames = _frames(n=2)
    cfgs = TEST + [dict(type='Flip', flip_ratio=1.0, flip_label_map={86: 87})]
    fused = _build([dict(type='FusedCropResize', transforms=cfgs)])[0]
    plain = _build([dict(type='FusedCropResize', transforms=TEST)])[0]
    out = fused(dict(imgs=list(frames), modality='RGB', label=86))
    ref = plain(dict(imgs=list(frames), modality='RGB', label=86))
    assert out['label'] == 87 and ref['label'] == 86
    assert out['flip'] is True
    assert np.array_equal(out['imgs'], ref['imgs'][:, :, ::-1])


def test_unfusable_transform_is_refused():
    with pytest.raises(ValueError, match="'ColorJitter'"):
        _build(
            [
                dict(
                    type='FusedCropResize',
                    transforms=[dict(type='ColorJitter')],
                )
            ]
        )


def _video_pipelines(backend):
    """(decoding, stock transforms, fused transforms): the demo's train
    pipeline, 8 frames at 56 px, decoded by ``backend``."""
    decode = decode_steps(8, backend=backend)
    crops = tsm_train_crops(56, 64)
    tail = PACK
    return (
        _build(decode),
        _build(crops + tail),
        _build([dict(type='FusedCropResize', transforms=crops)] + tail),
    )


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
def test_fast_pipeline_equals_stock_on_real_videos(synthetic_ssv2, backend):
    from tsm_plugin.datasets.ssv2 import SSv2Dataset

    pytest.importorskip('av' if backend == 'pyav' else backend)
    ds = SSv2Dataset(
        ann_file='labels/train.json',
        pipeline=[],
        label_file='labels/labels.json',
        data_root=str(synthetic_ssv2),
        data_prefix=dict(video='20bn-something-something-v2'),
    )
    decode, stock, fused = _video_pipelines(backend)
    for i in range(3):
        info = ds.get_data_info(i)
        outs = []
        for transforms in (stock, fused):
            np.random.seed(i)
            random.seed(i)
            decoded = _run(decode, dict(info))
            outs.append(
                (decoded['frame_inds'].copy(), _run(transforms, decoded))
            )
        (inds_a, a), (inds_b, b) = outs
        assert np.array_equal(inds_a, inds_b)  # same sampled frames
        assert (
            a['data_samples'].gt_label.tolist()
            == b['data_samples'].gt_label.tolist()
            == [info['label']]
        )
        x, y = a['inputs'], b['inputs']
        assert x.shape == y.shape == (8, 3, 56, 56)
        assert str(x.dtype) == str(y.dtype) == 'torch.uint8'
        diff = (x.int() - y.int()).abs().float()
        assert diff.mean() <= MEAN_TOL and diff.max() <= 4 * MAX_TOL, (
            diff.mean(),
            diff.max(),
        )
