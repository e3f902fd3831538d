"""TSN segment sampling: exact indices in train and test mode."""

import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tsm_plugin.datasets.transforms import SegmentSampleFrames, segment_indices


def test_test_mode_takes_segment_centres():
    # seg = 30 / 4 = 7.5: floor(7.5 * (i + 0.5)) = 3, 11, 18, 26
    assert segment_indices(30, 4, test_mode=True).tolist() == [3, 11, 18, 26]
    # seg = 48 / 16 = 3: 1, 4, 7, ...
    assert segment_indices(48, 16, True).tolist() == list(range(1, 48, 3))


def test_train_mode_draws_one_frame_per_segment_from_np_random():
    np.random.seed(0)  # u = .5488, .7152, .6028, .5449
    # floor(7.5 * i + 7.5 * u_i) = floor(4.12), floor(12.86), floor(19.52),
    # floor(26.59)
    assert segment_indices(30, 4, test_mode=False).tolist() == [4, 12, 19, 26]
    # np.random is the source: the same seed repeats the draw
    np.random.seed(0)
    a = segment_indices(45, 16, False)
    np.random.seed(0)
    assert segment_indices(45, 16, False).tolist() == a.tolist()
    assert a.dtype == np.int64


def test_train_indices_stay_in_their_float_segments():
    rng = np.random.RandomState(1)
    for total in (7, 16, 29, 61):
        seg = total / 8
        for _ in range(50):
            inds = segment_indices(total, 8, False, rng)
            lo = np.floor(seg * np.arange(8))
            hi = np.ceil(seg * np.arange(1, 9)) - 1
            assert (inds >= lo).all() and (inds <= hi).all()
            assert (np.diff(inds) >= 0).all() and inds.max() < total


def test_short_video_repeats_frames_instead_of_dropping_them():
    # seg = 10 / 16 = .625: floor(.625 * (i + .5))
    assert segment_indices(10, 16, True).tolist() == [
        0,
        0,
        1,
        2,
        2,
        3,
        4,
        4,
        5,
        5,
        6,
        7,
        7,
        8,
        9,
        9,
    ]
    np.random.seed(3)
    inds = segment_indices(10, 16, False)
    assert len(inds) == 16 and set(inds.tolist()) <= set(range(10))
    assert segment_indices(1, 4, False).tolist() == [0, 0, 0, 0]


def test_rounding_never_reaches_total(monkeypatch):
    class AlmostOne:
        def rand(self, n):
            return np.full(n, np.nextafter(1.0, 0.0))

    # 7 / 3 * 3 rounds up to 7.000000000000001 in floats
    assert segment_indices(7, 3, False, AlmostOne()).tolist() == [2, 4, 6]


def test_transform_sets_sampleframes_keys():
    t = TRANSFORMS.build(
        dict(type='SegmentSampleFrames', num_clips=4, test_mode=True)
    )
    assert isinstance(t, SegmentSampleFrames)
    out = t(dict(total_frames=30))
    assert out['frame_inds'].tolist() == [3, 11, 18, 26]
    assert out['frame_inds'].dtype == np.int64
    assert (out['clip_len'], out['frame_interval'], out['num_clips']) == (
        1,
        None,
        4,
    )
    with pytest.raises(ValueError, match='num_clips must be an integer >= 1'):
        SegmentSampleFrames(num_clips=0)
