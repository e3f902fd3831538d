"""The TFD test run shared by the evaluation and CLI tests: a tiny R-18 TSM
(32 px, trained at 8 frames for one epoch on 4 synthetic videos, the
TFDEvalHook on), and tools/test.py's numbers on its checkpoint at each frame
count (the reference every sweep is compared with). Registered as a pytest
plugin by tests/conftest.py."""

import copy
import pickle
from pathlib import Path

import pytest
import torch

from tests.helpers import torch_threads
from tsm_plugin.apis import test as test_api
from tsm_plugin.utils.config import (
    iter_datasets,
    load_config,
    set_data_root,
    set_epochs,
    set_loader_option,
    set_num_frames,
)

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')
TRAINED = 8
FRAMES = (2, 4, 8)
CROP = 32


def tiny_cfg(data_root, work_dir):
    """The demo config, CPU-test sized: 32 px, 8 frames, batch 2, 1 epoch."""
    cfg = load_config(DEMO)
    set_data_root(cfg, str(data_root))
    set_loader_option(cfg, 'batch_size', 2)
    set_loader_option(cfg, 'num_workers', 0)
    set_num_frames(cfg, TRAINED)
    set_epochs(cfg, 1)
    for ds in iter_datasets(cfg):
        for t in ds.pipeline:
            if t.type == 'Resize':
                t.scale = (
                    (CROP, CROP)
                    if not t.get('keep_ratio', True)
                    else (-1, CROP + 4)
                )
            elif t.type == 'CenterCrop':
                t.crop_size = CROP
            elif t.type == 'MultiScaleCrop':
                t.input_size = CROP
    cfg.train_dataloader.dataset.indices = 4  # 2 iterations
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.tfd.frames = FRAMES
    for name in (
        'non_finite_loss',
        'preemption',
        'skipped_videos',
        'eval_autocast',
    ):  # the TFD hook alone, as before
        cfg.default_hooks.pop(name)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture(scope='session')
def trained(synthetic_ssv2, tmp_path_factory):
    """One epoch with the hook: (config file, checkpoint, hook, work dir)."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp('tfd_run')
    cfg = tiny_cfg(synthetic_ssv2, work)
    cfg_file = work / 'tiny.py'
    cfg.dump(str(cfg_file))
    with torch_threads(1):  # tiny convs: a second thread only waits
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'TFDEvalHook')
    return dict(
        cfg=cfg,
        cfg_file=str(cfg_file),
        ckpt=str(work / 'epoch_1.pth'),
        hook=hook,
        work=work,
    )


@pytest.fixture(scope='session')
def tools_test_runs(trained, tmp_path_factory):
    """tools/test.py's body at each frame count: metrics and dumped scores.

    At the trained count it runs without --num-frames (the plain command).
    """
    out = {}
    for t in FRAMES:
        work = tmp_path_factory.mktemp(f'test_{t}f')
        argv = [
            trained['cfg_file'],
            trained['ckpt'],
            '--work-dir',
            str(work),
            '--dump',
            str(work / 'scores.pkl'),
        ]
        if t != TRAINED:
            argv += ['--num-frames', str(t)]
        metrics = test_api.test(test_api.build_parser().parse_args(argv))
        with open(work / 'scores.pkl', 'rb') as f:
            scores = torch.stack([d['pred_score'] for d in pickle.load(f)])
        out[t] = dict(metrics=metrics, scores=scores)
    return out
