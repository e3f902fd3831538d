"""Every shipped study file (configs/studies/*.py) loads, and every model
row's model builds (an ensemble's: its members'), without checkpoints or
training. Built on PyTorch's meta device: the configs' constructors run,
no weights are allocated."""

import pytest
import torch

from tests.helpers import REPO
from tsm_plugin import registration
from tsm_plugin.apis.study.options import row_config
from tsm_plugin.apis.study.spec import load_study

STUDIES = sorted((REPO / 'configs' / 'studies').glob('*.py'))


def test_there_are_studies():
    assert STUDIES


@pytest.fixture(scope='module')
def built():
    """The (config, cfg_options) models built so far: rows shared by
    several studies are built once."""
    return set()


@pytest.mark.parametrize('path', STUDIES, ids=lambda p: p.stem)
def test_study_loads_and_every_model_builds(path, built, monkeypatch):
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    registration.register_all_modules(init_default_scope=False)
    monkeypatch.chdir(REPO)  # the studies name configs from the repo root
    study = load_study(str(path.relative_to(REPO)), check_checkpoints=False)
    assert study.shown and study.frames
    models = {m for name in study.rows for m in study.models(name)}
    assert models, path.name
    for name in sorted(models):
        row = study.rows[name]
        key = (row.config, repr(sorted(row.cfg_options.items())))
        if key in built:
            continue
        cfg = row_config(row)
        if 'pretrained' in cfg.model.get('backbone', {}):
            cfg.model.backbone.pretrained = None  # no download
        with (
            torch.device('meta'),
            DefaultScope.overwrite_default_scope('mmaction'),
        ):
            model = MODELS.build(cfg.model)
        assert sum(p.numel() for p in model.parameters()) > 0, name
        built.add(key)
