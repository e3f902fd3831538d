"""The TFD test run shared by the evaluation and CLI tests: a tiny R-18 TSM
(32 px, trained at 8 frames for one epoch on 4 synthetic videos, the
TFDEvalHook on), and tools/test.py's numbers on its checkpoint at each frame
count (the reference every sweep is compared with). Registered as a pytest
plugin by tests/conftest.py."""

import copy
import pickle

import pytest
import torch

from tests.helpers import tiny_cfg, torch_threads
from tsm_plugin.apis import test as test_api

TRAINED = 8
FRAMES = (2, 4, 8)
CROP = 32
#: The fixtures that train (or test on a Runner): a test using one is slow.
SLOW_FIXTURES = frozenset({'trained', 'tools_test_runs'})


def tfd_cfg(data_root, work_dir):
    """The tiny demo config (:func:`tests.helpers.tiny_cfg`: 32 px, 8
    frames, batch 2, 1 epoch) on 4 training videos, with the TFD hook
    alone."""
    cfg = tiny_cfg(
        data_root, work_dir, frames=TRAINED, epochs=1, crop=CROP, indices=4
    )  # 2 iterations
    cfg.default_hooks.tfd.frames = FRAMES
    for name in (
        'non_finite_loss',
        'preemption',
        'skipped_videos',
        'eval_autocast',
    ):  # the TFD hook alone
        cfg.default_hooks.pop(name)
    return cfg


@pytest.fixture(scope='session')
def trained(synthetic_ssv2, tmp_path_factory):
    """One epoch with the hook: (config file, checkpoint, hook, work dir)."""
    from mmengine.runner import Runner

    work = tmp_path_factory.mktemp('tfd_run')
    cfg = tfd_cfg(synthetic_ssv2, work)
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
