"""Every shipped config loads and builds its model; the fine-tune rows
start from the 16-frame weights.

The study files under configs/studies/ are checked by
tests/apis/test_study_configs.py.
"""

import copy
from pathlib import Path

import pytest
import torch

from tests.helpers import REPO

CONFIGS = sorted(
    path.relative_to(REPO).as_posix()
    for path in (REPO / 'configs').rglob('*.py')
    if '_base_' not in path.parts and 'studies' not in path.parts
)
STUDY_ROWS = sorted(
    path.relative_to(REPO).as_posix()
    for path in (REPO / 'configs' / 'studies' / 'demo').glob('*.py')
)


def _model_cfg(cfg):
    """The model config, nothing downloaded (no ImageNet weights)."""
    model = copy.deepcopy(cfg.model)
    if model.get('backbone'):
        model['backbone']['pretrained'] = None
    return model


def test_the_configs_are_found():
    assert len(CONFIGS) >= 19 and len(STUDY_ROWS) >= 5
    assert 'configs/baselines/tsm_r50_mixed_ssv2.py' in CONFIGS


@pytest.mark.parametrize('path', CONFIGS + STUDY_ROWS)
def test_config_loads_and_builds_its_model(path):
    """On the meta device: every module is built, no weights allocated."""
    from mmaction.registry import MODELS

    from tsm_plugin.registration import register_all_modules
    from tsm_plugin.utils.config import load_config

    register_all_modules()
    cfg = load_config(str(REPO / path))
    if cfg.model['type'] == 'EnsembleRecognizer':
        # its members are configs of their own, loaded here
        members = [
            load_config(str(REPO / m['config'])) for m in cfg.model.members
        ]
        assert [m.num_frames for m in members] == [16, 16, 16]
        return
    with torch.device('meta'):
        model = MODELS.build(_model_cfg(cfg))
    counts = cfg.get('frame_counts') or (cfg.num_frames,)
    assert getattr(model.backbone, 'frame_counts', counts) == tuple(counts)


def test_the_ssv2_fine_tune_starts_from_the_16_frame_run():
    from tsm_plugin.utils.config import load_config

    ft = load_config(str(REPO / 'configs/baselines/tsm_r50_ft-16to4f_ssv2.py'))
    tsm = load_config(str(REPO / 'configs/tsm_r50_16f_ssv2.py'))
    assert (
        ft.load_from
        == f'work_dirs/tsm_r50_16f_ssv2/epoch_{tsm.max_epochs}.pth'
    )
    assert (
        ft.model.backbone.num_segments == ft.model.cls_head.num_segments == 4
    )
    assert ft.optim_wrapper.optimizer.lr == tsm.optim_wrapper.optimizer.lr / 10


@pytest.mark.slow
def test_the_demo_fine_tune_row_starts_from_the_16_frame_weights(
    tmp_path, synthetic_ssv2
):
    """The synthetic study's fine-tune row, its load_from a 16-frame TSM:
    the Runner's model holds exactly those weights, at 4 frames."""
    from mmaction.registry import MODELS
    from mmengine.runner import Runner

    from tsm_plugin.registration import register_all_modules
    from tsm_plugin.utils.config import load_config, set_data_root

    register_all_modules()
    tsm = MODELS.build(
        _model_cfg(load_config(str(REPO / 'configs/tsm_demo_synthetic.py')))
    )
    tsm.init_weights()
    ckpt = tmp_path / 'tsm_16f.pth'
    torch.save(dict(state_dict=tsm.state_dict(), meta=dict()), ckpt)

    cfg = load_config(str(REPO / 'configs/studies/demo/ft_16to4f.py'))
    assert 'tfd' not in cfg.default_hooks  # None switched it off
    set_data_root(cfg, str(synthetic_ssv2))
    cfg.load_from, cfg.work_dir = str(ckpt), str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    for key, value in tsm.state_dict().items():
        assert torch.equal(loaded[key], value), key
    assert runner.model.backbone.num_segments == 4
    assert Path(cfg.load_from) == ckpt
