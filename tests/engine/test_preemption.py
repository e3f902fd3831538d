"""Preemption (SIGTERM mid-epoch), exact resume, and a NaN loss stop, on a
real Runner with the tiny TSM config and the synthetic SSv2 videos."""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _tiny
from tests.helpers import REPO, one_thread_fixture, stop_workers
from tsm_plugin.apis import train as train_api
from tsm_plugin.engine.hooks import (
    PREEMPTED_EXIT_CODE,
    NonFiniteLossError,
    Preempted,
    PreemptionHook,
    release_signals,
)

EPOCHS = 2
INDICES = 12  # 12 training videos: 6 batches of 2 per epoch
STOP_AT = 8  # SIGTERM during iteration 8 = epoch 2, batch 2 of 6

# One torch thread: the same float reductions in every run of the module.
one_thread = one_thread_fixture('module')
# Every test trains on a real Runner (one launches tools/train.py).
pytestmark = pytest.mark.slow


class _Record:
    """Hook body: what each iteration trained on, at which lr."""

    priority = 'HIGHEST'

    def __init__(self, signal_at=None, nan_at=None):
        self.signal_at, self.nan_at = signal_at, nan_at
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ids = [s.video_id for s in data_batch['data_samples']]
        lr = runner.optim_wrapper.get_lr()['lr'][0]
        self.seen.append(
            (
                runner.iter,
                batch_idx,
                tuple(ids),
                lr,
                float(data_batch['inputs'][0].float().sum()),
            )
        )
        if runner.iter + 1 == self.signal_at:
            os.kill(os.getpid(), signal.SIGTERM)  # what SLURM sends
        if runner.iter + 1 == self.nan_at:
            model = (
                runner.model.module
                if hasattr(runner.model, 'module')
                else runner.model
            )
            model.cls_head.fc_cls.weight.data.fill_(float('nan'))


def _record_hook(**kwargs):
    from mmengine.hooks import Hook

    hook = type('RecordHook', (_Record, Hook), {})()
    _Record.__init__(hook, **kwargs)
    return hook


def _train(cfg, **record):
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg)
    hook = _record_hook(**record)
    runner.register_hook(hook)
    try:
        runner.train()
    finally:
        stop_workers(runner)
    return runner, hook


def _state(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope='module')
def reference(synthetic_ssv2, tmp_path_factory):
    """An uninterrupted run (no dataloader workers)."""
    work = tmp_path_factory.mktemp('reference')
    cfg = _tiny.reliability_cfg(
        synthetic_ssv2, work, epochs=EPOCHS, indices=INDICES
    )
    runner, hook = _train(cfg)
    assert len(hook.seen) == EPOCHS * 6
    return _state(runner), hook.seen


@pytest.mark.parametrize(
    'workers,stop_at,seed',
    [
        (0, STOP_AT, None),  # no fixed seed, as configs set (see below)
        (1, STOP_AT, 0),  # exact with workers too (equal to the 0-worker run)
        (0, 6, 0),  # in the last iteration of epoch 1, before its epoch save
    ],
)
def test_sigterm_mid_epoch_then_exact_resume(
    synthetic_ssv2, tmp_path, reference, monkeypatch, workers, stop_at, seed
):
    """Without a fixed seed (configs set none) each start draws one: the
    resumed run must go on with the interrupted run's seed (data order,
    augmentation, dropout), not the one it drew itself. The draws are made
    known (the first run draws 0, the resumed one another seed), so the
    uninterrupted run of the first run's seed is ``reference`` (seed 0)."""
    from mmengine.runner import utils as runner_utils

    ref_weights, ref_seen = reference
    draws = iter([0, 1234567])
    monkeypatch.setattr(runner_utils, 'sync_random_seed', lambda: next(draws))
    cfg = _tiny.reliability_cfg(
        synthetic_ssv2,
        tmp_path,
        epochs=EPOCHS,
        indices=INDICES,
        workers=workers,
    )
    cfg.randomness = dict(seed=seed)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted) as stop:
        _train(cfg, signal_at=stop_at)
    assert signal.getsignal(signal.SIGTERM) is previous  # restored
    saved = tmp_path / f'iter_{stop_at}.pth'
    assert stop.value.checkpoint == str(saved)
    assert (tmp_path / 'last_checkpoint').read_text() == str(saved)
    meta = torch.load(saved)['meta']
    epoch = (stop_at - 1) // 6  # the epoch in progress (0-based)
    assert (meta['epoch'], meta['iter']) == (epoch, stop_at)
    assert meta['seed'] == 0
    assert not (tmp_path / f'epoch_{epoch + 1}.pth').exists()

    cfg.resume = True
    runner, hook = _train(cfg)
    if seed is None:
        assert next(draws, None) is None  # it drew its own seed, 1234567
    assert runner.seed == meta['seed']
    # It went on with the next batch: same clips, same lr, same pixels.
    assert hook.seen[0][0] == stop_at
    assert hook.seen == ref_seen[stop_at:]
    _assert_same_weights(_state(runner), ref_weights)
    assert (tmp_path / f'epoch_{epoch + 1}.pth').exists()


def test_sigterm_to_train_cli_exits_3_and_resumes_exactly(
    synthetic_ssv2, tmp_path, reference, monkeypatch
):
    """The real thing: tools/train.py with 2 dataloader workers gets SIGTERM
    from outside, sent to all its processes as SLURM does; `--resume` then
    finishes the run."""
    ref_weights, _ = reference
    config = tmp_path / 'tiny.py'
    _tiny.reliability_cfg(
        synthetic_ssv2, tmp_path, epochs=EPOCHS, indices=INDICES, workers=2
    ).dump(str(config))
    work = tmp_path / 'work'
    cmd = [
        sys.executable,
        str(REPO / 'tools' / 'train.py'),
        str(config),
        '--work-dir',
        str(work),
    ]
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines = []
    deadline = time.time() + 120
    for line in proc.stdout:
        lines.append(line)
        if 'Epoch(train) [1][2/6]' in line:  # mid-epoch 1, handlers set
            os.killpg(proc.pid, signal.SIGTERM)  # main process and workers
            break
        assert time.time() < deadline, ''.join(lines[-20:])
    out = ''.join(lines) + proc.stdout.read()
    assert proc.wait(timeout=120) == PREEMPTED_EXIT_CODE, out[-3000:]
    saved = Path((work / 'last_checkpoint').read_text())
    assert saved.name.startswith('iter_') and saved.is_file()
    assert f'preempted: SIGTERM received: saved {saved}' in out
    assert 'Traceback' not in out  # workers kept serving, then exited
    done = torch.load(saved)['meta']['iter']
    assert 2 <= done < 6, out[-3000:]  # stopped inside epoch 1

    # The same command with --resume (in this process: one start-up less;
    # without workers: the result does not depend on them).
    logs = []
    from tsm_plugin.engine import loops

    monkeypatch.setattr(loops, 'print_log', lambda msg, **kw: logs.append(msg))
    assert (
        train_api.main(
            [
                str(config),
                '--work-dir',
                str(work),
                '--resume',
                '--num-workers',
                '0',
            ]
        )
        == 0
    )
    assert f'Resuming epoch 1 at batch {done + 1}/6' in logs
    final = torch.load(work / f'epoch_{EPOCHS}.pth')['state_dict']
    _assert_same_weights(final, ref_weights)


def test_nan_loss_stops_before_saving(synthetic_ssv2, tmp_path, capsys):
    cfg = _tiny.reliability_cfg(
        synthetic_ssv2, tmp_path, epochs=EPOCHS, indices=INDICES
    )
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(NonFiniteLossError) as err:
        _train(cfg, nan_at=9)  # epoch 2, batch 3
    assert signal.getsignal(signal.SIGTERM) == handler  # given back
    message = str(err.value)
    assert message.startswith(
        'loss is nan at iteration 9 (epoch 2, batch 3/6)'
    ), message
    assert str(tmp_path / 'epoch_1.pth') in message and '\n' not in message
    # Nothing of the NaN state was written; the last good one is intact.
    assert (tmp_path / 'last_checkpoint').read_text().endswith('epoch_1.pth')
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_1.pth']
    weights = torch.load(tmp_path / 'epoch_1.pth')['state_dict']
    assert all(
        torch.isfinite(v).all()
        for v in weights.values()
        if v.is_floating_point()
    )


def test_train_cli_exit_codes(synthetic_ssv2, tmp_path, capsys):
    """main(): NaN -> one line + status 1; preempted -> status 3."""
    from mmaction.registry import HOOKS
    from mmengine.hooks import Hook

    @HOOKS.register_module(name='_TestNaNAt', force=True)
    class NaNAt(_Record, Hook):
        def __init__(self, nan_at=None, signal_at=None):
            _Record.__init__(self, nan_at=nan_at, signal_at=signal_at)

    base = _tiny.reliability_cfg(synthetic_ssv2, tmp_path, epochs=2, indices=4)
    for name, hook, code in (
        ('nan', dict(nan_at=2), 1),
        ('sig', dict(signal_at=2), 3),
    ):
        cfg = copy.deepcopy(base)
        cfg.custom_hooks = [dict(type='_TestNaNAt', **hook)]
        path = tmp_path / f'{name}.py'
        cfg.dump(str(path))
        capsys.readouterr()
        handler = signal.getsignal(signal.SIGTERM)
        status = train_api.main(
            [str(path), '--work-dir', str(tmp_path / name)]
        )
        # A failed run calls no after_train; main gives the handlers back.
        assert signal.getsignal(signal.SIGTERM) == handler, name
        err = capsys.readouterr().err.strip().splitlines()
        assert status == code, err
        prefix = 'error: loss is nan' if code == 1 else 'preempted: SIGTERM'
        assert err[-1].startswith(prefix), err[-1]


def _report_handler(conn):
    conn.send(str(signal.getsignal(signal.SIGTERM)))
    time.sleep(60)


def test_a_forked_child_dies_on_sigterm_as_without_the_hook():
    """While the hook holds SIGTERM, a child forked from the main process
    (a worker pool; not a dataloader worker, which guards itself) has the
    handler from before the hook and ends on SIGTERM, even one sent before
    it got it back: multiprocessing's Pool.terminate() waits on that."""
    import multiprocessing as mp
    from types import SimpleNamespace

    fork = mp.get_context('fork')
    hook = PreemptionHook(signals=('SIGTERM',))
    handler = signal.getsignal(signal.SIGTERM)
    hook.before_train(SimpleNamespace(train_dataloader=None, val_loop=None))
    try:
        assert signal.getsignal(signal.SIGTERM) == hook._on_signal
        here, there = fork.Pipe()
        settled = fork.Process(target=_report_handler, args=(there,))
        early = fork.Process(target=time.sleep, args=(60,))
        settled.start()
        there.close()
        assert here.poll(20)
        assert here.recv() == str(handler)  # given back after the fork
        early.start()
        for child in (settled, early):
            child.terminate()  # early: at once, maybe before the give-back
            child.join(timeout=20)
            assert child.exitcode == -signal.SIGTERM, child.exitcode
        assert hook._received is None  # the main process saw nothing
    finally:
        release_signals(SimpleNamespace(hooks=[hook]))
        for child in fork.active_children():
            child.kill()
    assert signal.getsignal(signal.SIGTERM) == handler
