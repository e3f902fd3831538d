"""MultiCountSampleFrames: FFN's 16 | 8 | 4 training sampling, one decode."""

import av
import mmcv
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import (
    REPO,
    ffn_train_pipeline,
    first_video,
    one_thread_fixture,
)
from tsm_plugin.datasets.multi_count_sampling import (
    MultiCountSampleFrames,
    multi_count_indices,
)
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.utils.config import load_config, set_data_root

# np.random.RandomState(0).rand(16), then .rand(8), then .rand(4):
# u16 = .5488 .7152 .6028 .5449 .4237 .6459 .4376 .8918
#       .9637 .3834 .7917 .5289 .5680 .9256 .0710 .0871
# u8  = .0202 .8326 .7782 .8700 .9786 .7992 .4615 .7805
# u4  = .1183 .6399 .1434 .9447
# 16 of 32 frames: floor(2 * i + 2 * u16_i), e.g. i=0: floor(1.10) = 1,
# i=7: floor(14 + 1.78) = 15, i=15: floor(30 + 0.17) = 30.
IDX_16 = [1, 3, 5, 7, 8, 11, 12, 15, 17, 18, 21, 23, 25, 27, 28, 30]
# independent, 8 of 32: floor(4 * j + 4 * u8_j): floor(0.08) = 0,
# floor(4 + 3.33) = 7, ..., floor(28 + 3.12) = 31.
IND_8 = [0, 7, 11, 15, 19, 23, 25, 31]
# independent, 4 of 32: floor(8 * j + 8 * u4_j): floor(0.95) = 0,
# floor(8 + 5.12) = 13, floor(16 + 1.15) = 17, floor(24 + 7.56) = 31.
IND_4 = [0, 13, 17, 31]
# nested, 8 of the 16 positions: floor(2 * j + 2 * u8_j) = 0 3 5 7 9 11 12 15
# (floor(0.04), floor(2 + 1.67), ..., floor(14 + 1.56)), so IDX_16 at those.
NEST_8 = [1, 7, 11, 15, 18, 23, 25, 30]
# nested, 4 of the 8 positions: floor(2 * j + 2 * u4_j) = 0 3 4 7
# (floor(0.24), floor(2 + 1.28), floor(4 + 0.29), floor(6 + 1.89)).
NEST_4 = [1, 15, 18, 30]

one_thread = one_thread_fixture('module')


@pytest.mark.parametrize(
    'mode, expected',
    [
        ('independent', IDX_16 + IND_8 + IND_4),
        ('nested', IDX_16 + NEST_8 + NEST_4),
    ],
)
def test_exact_indices(mode, expected):
    rng = np.random.RandomState(0)
    inds = multi_count_indices(32, (16, 8, 4), mode, rng)
    assert inds.dtype == np.int64
    assert inds.tolist() == expected
    # the transform draws from np.random (seeded per worker by mmengine),
    # and orders the counts largest first whatever the config's order
    np.random.seed(0)
    results = MultiCountSampleFrames((4, 16, 8), mode)(dict(total_frames=32))
    assert results['frame_inds'].tolist() == expected
    assert results['frame_counts'] == (16, 8, 4)
    assert results['num_clips'] == 28
    assert results['clip_len'] == 1
    assert results['frame_interval'] is None


@pytest.mark.parametrize('total', [3, 17, 50, 301])
def test_nested_is_a_subset_and_segmented(total):
    rng = np.random.RandomState(total)
    for _ in range(20):
        inds = multi_count_indices(total, (16, 8, 4), 'nested', rng)
        i16, i8, i4 = inds[:16], inds[16:24], inds[24:]
        # each count a sub-selection of the next larger, in order
        assert np.isin(i8, i16).all() and np.isin(i4, i8).all()
        assert (np.diff(i8) >= 0).all() and (np.diff(i4) >= 0).all()
        # 8 = one of the two 16-segments of each 8-segment, 4 likewise
        assert all(i8[j] in i16[2 * j : 2 * j + 2] for j in range(8))
        assert all(i4[j] in i16[4 * j : 4 * j + 4] for j in range(4))


def test_independent_draws_differ_from_nested():
    """Independent 8-frame draws leave the 16 set sometimes; nested never."""
    rng = np.random.RandomState(1)
    outside = sum(
        not np.isin(inds[16:], inds[:16]).all()
        for inds in (
            multi_count_indices(300, (16, 8, 4), 'independent', rng)
            for _ in range(20)
        )
    )
    assert outside >= 15


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(frame_counts=()),
        dict(frame_counts=(16, 0)),
        dict(frame_counts=(16, 8, 8)),
        dict(frame_counts=(16, 8.5)),
        dict(frame_counts=16),
        dict(mode='random'),
    ],
)
def test_bad_values_raise(kwargs):
    with pytest.raises(ConfigValueError):
        MultiCountSampleFrames(**kwargs)


def test_one_decode_serves_every_count(synthetic_ssv2):
    path = first_video(synthetic_ssv2)
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
    init_default_scope('mmaction')
    pipeline = [
        TRANSFORMS.build(t)
        for t in ffn_train_pipeline(32, ('img_shape', 'frame_counts'))
    ]
    np.random.seed(3)
    results = dict(filename=str(path), label=2, start_index=0, modality='RGB')
    for t in pipeline:
        results = t(results)
    np.random.seed(3)
    inds = multi_count_indices(len(frames), (16, 8, 4))
    expected = np.stack(
        [mmcv.imresize(frames[i], (32, 32)) for i in inds]
    ).transpose(0, 3, 1, 2)
    assert results['inputs'].shape == (28, 3, 32, 32)
    np.testing.assert_array_equal(results['inputs'].numpy(), expected)
    assert results['data_samples'].metainfo['frame_counts'] == (16, 8, 4)


def test_ffn_demo_config_trains_on_every_count(synthetic_ssv2):
    """The FFN demo sets frame_counts once; its train dataset (through the
    config loader) gives each video at 16 | 8 | 4 frames from one decode,
    with the TSM demo's resize."""
    from mmaction.registry import DATASETS

    init_default_scope('mmaction')
    cfg = load_config(str(REPO / 'configs' / 'ffn_demo_synthetic.py'))
    set_data_root(cfg, str(synthetic_ssv2))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    sampler = dataset.pipeline.transforms[1]
    assert isinstance(sampler, MultiCountSampleFrames)
    assert sampler.frame_counts == (16, 8, 4)
    np.random.seed(0)
    assert dataset[0]['inputs'].shape == (28, 3, 32, 42)
