"""The config helpers: the frame count set everywhere at once, carried from
the top-level num_frames/max_epochs at load."""

from pathlib import Path

import pytest

from tests.helpers import frame_settings
from tsm_plugin.errors import InputError
from tsm_plugin.utils.config import load_config, set_num_frames

REPO = Path(__file__).resolve().parents[2]
RECIPE = str(REPO / 'configs' / 'tsm_r50_16f_ssv2.py')
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')


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
