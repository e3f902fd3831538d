"""The config helpers: the frame count set everywhere at once, carried from
the top-level num_frames/frame_counts/max_epochs at load, and the one check
of a frame count."""

import numpy as np
import pytest

from tests.helpers import DEMO, RECIPE, REPO, frame_settings
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.utils.config import (
    check_count,
    check_frame_counts,
    load_config,
    set_num_frames,
)

FFN = str(REPO / 'configs' / 'ffn_r50_4-8-16f_ssv2.py')
FFN_DEMO = str(REPO / 'configs' / 'ffn_demo_synthetic.py')


def test_set_num_frames_changes_all_three_settings_together():
    cfg = load_config(RECIPE)
    assert frame_settings(cfg) == (16, 16, [16, 16, 16])
    set_num_frames(cfg, 4)
    assert frame_settings(cfg) == (4, 4, [4, 4, 4])
    assert cfg.num_frames == 4
    # nothing else moved
    assert cfg.model.cls_head.num_classes == 174
    assert cfg.test_dataloader.dataset.pipeline[1].test_mode is True
    with pytest.raises(InputError, match='>= 1, got 0'):
        set_num_frames(cfg, 0)


def test_load_config_carries_the_top_level_values():
    """A recipe sets num_frames and max_epochs once; load_config carries
    them into the model, the samplers and the schedule, and so does
    --cfg-options on the top-level key."""
    cfg = load_config(DEMO)
    assert frame_settings(cfg) == (16, 16, [16, 16, 16])
    assert cfg.train_cfg.max_epochs == cfg.max_epochs == 10
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cosine.T_max) == (
        1,
        1,
        10,
        9,
    )
    cfg = load_config(RECIPE, dict(num_frames=8, max_epochs=20))
    assert frame_settings(cfg) == (8, 8, [8, 8, 8])
    assert cfg.param_scheduler[1].T_max == 19
    # an option on a nested key wins over the carried value
    cfg = load_config(RECIPE, {'model.backbone.num_segments': 4})
    assert frame_settings(cfg) == (4, 16, [16, 16, 16])
    with pytest.raises(InputError, match='num_frames must be >= 1, got 0'):
        load_config(RECIPE, dict(num_frames=0))


def _train_samplers(cfg):
    """The sampler of the train dataloader's and of the top-level
    train_pipeline, and the test dataloader's."""
    return (
        cfg.train_dataloader.dataset.pipeline[1],
        cfg.train_pipeline[1],
        cfg.test_dataloader.dataset.pipeline[1],
    )


@pytest.mark.parametrize('path', [FFN, FFN_DEMO])
def test_load_config_carries_frame_counts(path):
    """An FFN config sets its branch counts once (frame_counts): the
    backbone takes them in branch order, the training sampler becomes
    MultiCountSampleFrames with them largest first; the test sampler keeps
    num_frames. --cfg-options frame_counts=... is carried the same way."""
    cfg = load_config(path)
    assert cfg.frame_counts == cfg.model.backbone.frame_counts == (4, 8, 16)
    assert cfg.model.backbone.num_segments == cfg.num_frames == 16
    train, top_train, test = _train_samplers(cfg)
    for sampler in (train, top_train):
        assert dict(sampler) == dict(
            type='MultiCountSampleFrames', frame_counts=(16, 8, 4)
        )
    assert test.type == 'SegmentSampleFrames' and test.num_clips == 16
    cfg = load_config(path, dict(frame_counts=[8, 2], num_frames=8))
    assert cfg.model.backbone.frame_counts == (8, 2)
    train, top_train, test = _train_samplers(cfg)
    assert train.frame_counts == top_train.frame_counts == (8, 2)
    assert (cfg.model.backbone.num_segments, test.num_clips) == (8, 8)


def test_frame_counts_need_a_multi_count_model():
    with pytest.raises(ConfigValueError, match='not a multi-count model'):
        load_config(RECIPE, dict(frame_counts=(4, 8)))
    with pytest.raises(ConfigValueError, match='must not repeat a count'):
        load_config(FFN, dict(frame_counts=(4, 4)))


@pytest.mark.parametrize(
    'value, want', [(1, 1), (16, 16), (np.int64(8), 8), (8.0, 8)]
)
def test_check_count_takes_integers_from_1(value, want):
    got = check_count(value, 'num_frames')
    assert got == want and type(got) is int


@pytest.mark.parametrize(
    'value, message',
    [
        (0, 'x must be >= 1, got 0'),
        (-2, 'x must be >= 1, got -2'),
        (2.5, 'x must be an integer >= 1, got 2.5'),
        (True, 'x must be an integer >= 1, got True'),
        ('8', "x must be an integer >= 1, got '8'"),
        (None, 'x must be an integer >= 1, got None'),
        (float('inf'), 'x must be an integer >= 1, got inf'),
    ],
)
def test_check_count_names_the_bad_value(value, message):
    with pytest.raises(ConfigValueError) as err:
        check_count(value, 'x')
    assert str(err.value) == message


def test_check_frame_counts_keeps_branch_order_or_dedupes():
    assert check_frame_counts([16, 8, 4]) == (16, 8, 4)
    assert check_frame_counts((8, 2, 8), '--frames', dedupe=True) == (2, 8)
    for bad, message in (
        ((), 'frame_counts must be a non-empty list'),
        (16, 'frame_counts must be a non-empty list'),
        ((16, 8, 8), 'frame_counts must not repeat a count'),
        ((16, 0), 'frame_counts must be >= 1, got 0'),
        ((16, 8.5), 'frame_counts must be an integer >= 1, got 8.5'),
    ):
        with pytest.raises(ConfigValueError, match=message):
            check_frame_counts(bad)
    with pytest.raises(ConfigValueError, match='--frames must be >= 1'):
        check_frame_counts([4, 0, 4], '--frames', dedupe=True)
