"""One epoch of the Kinetics-400 and HMDB51 recipes (TSM and FFN) through
tools/train.py's body on the synthetic sets, each ending with a checkpoint;
and tools/test.py on another HMDB51 split, as docs/hmdb51.md averages them.

The recipes are run as shipped except for what a CPU test needs: ResNet-18
from scratch, 32 px crops, 4 frames for TSM, 2 clips a batch.
"""

import json

import pytest
import torch

from tests.helpers import REPO, SHORT_RUN, one_thread_fixture
from tsm_plugin.apis import test as test_api
from tsm_plugin.apis import train as train_api
from tsm_plugin.testing.synthetic_videos import (
    make_synthetic_hmdb51,
    make_synthetic_k400,
)
from tsm_plugin.utils.config import iter_datasets

pytestmark = pytest.mark.slow
one_thread = one_thread_fixture('module')
SMALL = dict(height=32, min_seconds=1.0, max_seconds=1.2, progress=False)
# CPU-sized model: ResNet-18 from scratch (no download), 8 synthetic classes.
CPU_MODEL = [
    'model.backbone.depth=18',
    'model.backbone.pretrained=None',
    'model.cls_head.in_channels=512',
    'model.cls_head.num_classes=8',
    'model.data_preprocessor.channels_last=False',
    'optim_wrapper.precision=fp32',
    'default_hooks.checkpoint.save_best=None',
]
SIZES = dict(
    Resize=lambda t: t.update(
        scale=(32, 32) if not t.get('keep_ratio', True) else (-1, 36)
    ),
    MultiScaleCrop=lambda t: t.update(input_size=32),
    CenterCrop=lambda t: t.update(crop_size=32),
)


def load_small(path, cfg_options=None):
    """The recipe as loaded by the tools, its crops at 32 px."""
    cfg = train_api_load(path, cfg_options)
    for ds in iter_datasets(cfg):
        for step in ds.pipeline:
            for t in step.get('transforms', [step]):
                SIZES.get(t['type'], lambda t: None)(t)
    return cfg


train_api_load = train_api.load_config


@pytest.fixture(scope='module')
def k400(tmp_path_factory):
    """1 training video per class; one missing, one broken."""
    root = tmp_path_factory.mktemp('k400')
    return make_synthetic_k400(
        str(root),
        num_train_per_class=1,
        num_val_per_class=0,
        missing=1,
        broken=1,
        **SMALL,
    )['root']


@pytest.fixture(scope='module')
def hmdb51(tmp_path_factory):
    root = tmp_path_factory.mktemp('hmdb51')
    return make_synthetic_hmdb51(str(root), videos_per_class=3, **SMALL)[
        'root'
    ]


def _train(config, root, work_dir, monkeypatch, *options):
    monkeypatch.setattr(train_api, 'load_config', load_small)
    argv = [
        str(REPO / 'configs' / config),
        '--data-root',
        str(root),
        '--work-dir',
        str(work_dir),
        '--epochs',
        '1',
        *SHORT_RUN,
        '--cfg-options',
        *CPU_MODEL,
        *options,
    ]
    assert train_api.main(argv) == 0
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 1
    return ckpt


@pytest.mark.parametrize(
    'config', ['tsm_r50_16f_k400.py', 'ffn_r50_4-8-16f_k400.py']
)
def test_one_epoch_on_k400(config, k400, tmp_path, monkeypatch):
    """7 usable of 8 listed (1 missing); the broken one is replaced."""
    options = ['num_frames=4'] if config.startswith('tsm') else []
    ckpt = _train(config, k400, tmp_path, monkeypatch, *options)
    assert ckpt['meta']['iter'] == 4  # 7 usable listed, batch 2, 1 epoch
    ffn = any('.adapter.' in k for k in ckpt['state_dict'])
    assert ffn == config.startswith('ffn')


def test_ffn_one_epoch_on_hmdb51(hmdb51, tmp_path, monkeypatch):
    ckpt = _train('ffn_r50_4-8-16f_hmdb51.py', hmdb51, tmp_path, monkeypatch)
    assert ckpt['meta']['iter'] == 4  # split 1: 8 training videos
    assert any('.adapter.' in k for k in ckpt['state_dict'])


def test_tsm_on_hmdb51_split_2_then_tested(hmdb51, tmp_path, monkeypatch):
    """Trained on split 2 and tested on split 2's test list, as
    docs/hmdb51.md runs each split (``--cfg-options split=2``, carried into
    every dataset); the result JSON holds acc/top1."""
    ckpt = _train(
        'tsm_r50_16f_hmdb51.py',
        hmdb51,
        tmp_path,
        monkeypatch,
        'num_frames=4',
        'split=2',
    )
    assert ckpt['meta']['iter'] == 4  # split 2: 8 training videos
    (log,) = tmp_path.glob('*/*.log')
    assert '(split 2, train): 8 usable of 8 listed' in log.read_text()
    monkeypatch.setattr(test_api, 'load_config', load_small)
    argv = [
        str(REPO / 'configs' / 'tsm_r50_16f_hmdb51.py'),
        str(tmp_path / 'epoch_1.pth'),
        '--data-root',
        str(hmdb51),
        '--work-dir',
        str(tmp_path / 'test'),
        '--batch-size',
        '4',
        '--num-workers',
        '0',
        '--cfg-options',
        *CPU_MODEL,
        'num_frames=4',
        'split=2',
    ]
    assert test_api.main(argv) == 0
    (log,) = (tmp_path / 'test').glob('*/*.log')
    assert '(split 2, test): 8 usable of 8 listed' in log.read_text()
    (result,) = (tmp_path / 'test').glob('*/*.json')
    metrics = json.loads(result.read_text())
    assert 0 <= metrics['acc/top1'] <= 1
