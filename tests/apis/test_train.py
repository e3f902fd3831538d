"""tools/train.py: flags, one-line errors, and resume on a real Runner."""

import subprocess
import sys

import pytest
import torch

from tests.helpers import (
    DEMO,
    RECIPE,
    REPO,
    SHORT_RUN,
    capture_hook,
    one_thread_fixture,
)
from tsm_plugin.apis import train as train_api

# Tiny convolutions: a second torch thread only waits (and, on shared
# cores, makes each step several times slower).
one_thread = one_thread_fixture('module')


def test_help_lists_the_plan_flags(capsys):
    with pytest.raises(SystemExit) as done:
        train_api.main([RECIPE, '--help'])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        '--work-dir',
        '--resume',
        '--amp',
        '--auto-scale-lr',
        '--cfg-options',
        '--launcher',
        '--seed',
        '--data-root',
        '--data_dir',
        '--epochs',
        '--batch-size',
        '--batch_size',
        '--num-workers',
        '--num_workers',
        '--checkpoint_dir',
    ):
        assert flag in out, flag


def test_missing_data_root_is_one_line(tmp_path, capsys):
    missing = tmp_path / 'no' / 'ssv2'
    assert train_api.main([RECIPE, '--data-root', str(missing)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [f'error: --data-root does not exist: {missing}']


@pytest.mark.slow
def test_missing_config_is_one_line(tmp_path):
    """The real tools/train.py, from any directory without PYTHONPATH: one
    line and exit status 2."""
    out = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'), 'configs/nope.py'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 2
    assert (
        out.stderr.strip() == 'error: config file not found: configs/nope.py'
    )


#: How every tools/*.py finds the repository's packages from any directory.
BOOTSTRAP = (
    'sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))\n'
)


def test_every_tool_starts_as_train_py_does():
    """The bootstrap the test above runs is every Python tool's (their
    mains are tested in-process), before it imports its main."""
    for tool in sorted((REPO / 'tools').glob('*.py')):
        text = tool.read_text()
        assert BOOTSTRAP in text, tool.name
        main = text.index(' import main  # noqa: E402')
        assert text.index(BOOTSTRAP) < main, tool.name


def test_plan_flags_reach_the_config(synthetic_ssv2, tmp_path):
    args = train_api.build_parser().parse_args(
        [
            RECIPE,
            '--data_dir',
            str(synthetic_ssv2),
            '--epochs',
            '10',
            '--batch_size',
            '4',
            '--num_workers',
            '0',
            '--checkpoint_dir',
            str(tmp_path),
            '--resume',
        ]
    )
    cfg = train_api.load_config(args.config, args.cfg_options)
    cfg = train_api.merge_args(cfg, args)
    assert cfg.work_dir == str(tmp_path)
    # --resume is resolved here (as mmaction2 does): nothing to resume yet,
    # so a fresh start.
    assert cfg.resume is False and cfg.load_from is None
    assert cfg.train_cfg.max_epochs == 10
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cosine.T_max) == (
        1,
        1,
        10,
        9,
    )
    assert cfg.train_dataloader.batch_size == 4
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        assert loader.dataset.data_root == str(synthetic_ssv2)
        assert loader.num_workers == 0 and not loader.persistent_workers


def _runner(argv):
    from mmengine.runner import Runner

    args = train_api.build_parser().parse_args(argv)
    cfg = train_api.load_config(args.config, args.cfg_options)
    cfg = train_api.merge_args(cfg, args)
    cfg.default_hooks.pop('tfd', None)  # no TFD sweep after training
    runner = Runner.from_cfg(cfg)
    capture = capture_hook()
    runner.register_hook(capture)
    return runner, capture


def _short_run(config, data_root, work_dir, *cfg_options):
    """The argv of a short run (:data:`~tests.helpers.SHORT_RUN`) of
    ``config`` on ``data_root``."""
    return [
        str(config),
        '--data-root',
        str(data_root),
        '--work-dir',
        str(work_dir),
        *SHORT_RUN,
        '--cfg-options',
        *cfg_options,
    ]


@pytest.mark.slow
def test_resume_continues_at_epoch_3(synthetic_ssv2, tmp_path):
    common = _short_run(
        DEMO,
        synthetic_ssv2,
        tmp_path,
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'num_frames=4',  # the demo at 4 frames on 4 videos: 2 iterations
        'train_dataloader.dataset.indices=4',
    )
    first, _ = _runner(common + ['--epochs', '3'])
    # Stop after 2 of 3 epochs, as if the job had been killed there.
    first.train_loop._max_epochs = 2
    first.train()
    saved = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu')
    assert (
        (tmp_path / 'last_checkpoint')
        .read_text()
        .strip()
        .endswith('epoch_2.pth')
    )

    resumed, capture = _runner(common + ['--epochs', '3', '--resume'])
    resumed.train()
    seen = capture.seen
    assert seen['epoch'] == 2 and seen['iter'] == saved['meta']['iter'] > 0
    # Optimizer state: momentum buffers and lr groups exactly as saved.
    opt_saved = saved['optimizer']
    assert seen['optimizer']['param_groups'] == opt_saved['param_groups']
    assert opt_saved['state'], 'SGD momentum buffers were saved'
    for key, state in opt_saved['state'].items():
        torch.testing.assert_close(
            seen['optimizer']['state'][key]['momentum_buffer'],
            state['momentum_buffer'],
            rtol=0,
            atol=0,
        )
    assert seen['schedulers'] == saved['param_schedulers']
    for k, v in saved['state_dict'].items():
        torch.testing.assert_close(seen['weights'][k], v, rtol=0, atol=0)
    # ... and it trained epoch 3 from there.
    assert resumed.epoch == 3
    assert (tmp_path / 'epoch_3.pth').exists()


@pytest.mark.slow
def test_ffn_demo_resumes_after_2_epochs(synthetic_ssv2, tmp_path):
    common = _short_run(
        REPO / 'configs' / 'ffn_demo_synthetic.py',
        synthetic_ssv2,
        tmp_path,
        'load_from=None',  # from scratch: no make demo checkpoint here
        'train_dataloader.dataset.indices=4',  # 2 iterations an epoch
    )
    first, _ = _runner(common + ['--epochs', '3'])
    first.train_loop._max_epochs = 2  # killed after 2 of 3 epochs
    first.train()
    saved = torch.load(tmp_path / 'epoch_2.pth', map_location='cpu')
    assert any('.adapter.' in k for k in saved['state_dict'])

    resumed, capture = _runner(common + ['--epochs', '3', '--resume'])
    resumed.train()
    seen = capture.seen
    assert seen['epoch'] == 2 and seen['iter'] == saved['meta']['iter'] > 0
    for k, v in saved['state_dict'].items():  # every branch's BNs, adapters
        torch.testing.assert_close(seen['weights'][k], v, rtol=0, atol=0)
    assert resumed.epoch == 3
