"""ThreadPolicyHook on a real Runner: the main process keeps the cores its
dataloader workers leave free, each worker computes in one thread."""

import os

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _toy
from tests.helpers import DEMO, stop_workers, torch_threads
from tsm_plugin.engine.hooks import ThreadPolicyHook
from tsm_plugin.engine.hooks.thread_policy_hook import alive_workers
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.utils.config import set_data_root


class _Threads(Hook):
    """Records the main process's torch threads while it trains."""

    def __init__(self):
        self.seen = set()

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.add(torch.get_num_threads())


@pytest.fixture
def machine(monkeypatch):
    """Pretend this process may run on ``cores`` cores, with no
    OMP_NUM_THREADS."""
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)

    def set_cores(cores):
        monkeypatch.setattr(
            os,
            'sched_getaffinity',
            lambda pid: set(range(cores)),
            raising=False,
        )
        monkeypatch.setattr(os, 'cpu_count', lambda: cores)

    return set_cores


def _train(tmp_path, workers, before, hook=None):
    """Train the toy model 1 epoch with ``before`` torch threads at the
    start; returns (threads seen while training, log lines of the hook,
    threads after the run)."""
    probe = _Threads()
    runner = _toy.make_runner(
        tmp_path,
        max_epochs=1,
        workers=workers,
        custom_hooks=[hook or ThreadPolicyHook(), probe],
    )
    lines = []
    info = runner.logger.info
    runner.logger.info = lambda msg, *a, **k: (
        lines.append(msg) if msg.startswith('Threads:') else info(msg, *a, **k)
    )
    with torch_threads(before):
        try:
            runner.train()
        finally:
            stop_workers(runner)
            runner.logger.info = info
        after = torch.get_num_threads()
    return probe.seen, lines, after


@pytest.mark.parametrize(
    'cores,workers',
    [
        (2, 1),  # the demo's machine: one worker leaves the main process one
        (4, 1),
        (6, 2),
        (3, 0),
        (2, 3),  # more workers than cores: still one
    ],
)
def test_main_process_gets_the_cores_workers_leave(
    tmp_path, machine, cores, workers
):
    machine(cores)
    seen, lines, after = _train(tmp_path, workers, before=cores)
    expected = max(1, cores - workers)
    assert seen == {expected}
    assert lines == [
        f'Threads: {expected} torch threads in the main process ({cores} '
        f'cores - {workers} dataloader workers, at most the {cores} in '
        'place); one in each dataloader worker.'
    ]
    assert after == cores  # the caller's count is given back


def test_never_more_threads_than_in_place(tmp_path, machine):
    """A caller's lower torch.set_num_threads (or torch's default of one per
    physical core) is a ceiling."""
    machine(8)
    seen, _, after = _train(tmp_path, 1, before=2)
    assert seen == {2} and after == 2


def test_explicit_omp_num_threads_wins(tmp_path, machine, monkeypatch):
    machine(4)
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    seen, lines, _ = _train(tmp_path, 2, before=3)
    assert seen == {3}  # not 4 - 2
    assert 'OMP_NUM_THREADS=3 is set explicitly' in lines[0]


def test_threads_argument_forces_the_count(tmp_path, machine, monkeypatch):
    machine(2)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    seen, _, after = _train(
        tmp_path, 1, before=1, hook=ThreadPolicyHook(threads=3)
    )
    assert seen == {3} and after == 1
    with pytest.raises(ConfigValueError, match='threads=0'):
        ThreadPolicyHook(threads=0)


class _WorkerThreads(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, idx):
        return torch.get_num_threads()


def test_each_worker_computes_in_one_thread():
    """torch's worker loop sets one thread (the hook relies on it)."""
    with torch_threads(2):
        loader = DataLoader(_WorkerThreads(), batch_size=None, num_workers=1)
        assert [int(n) for n in loader] == [1, 1]


@pytest.mark.slow
def test_demo_config_counts_train_and_val_workers(
    synthetic_ssv2, tmp_path, machine
):
    """The demo decodes in the main process (no workers): it keeps both
    cores. With one persistent worker per loader (--num-workers 1 on 2
    cores) both stay alive, so the main process gets 1 thread."""
    cfg = Config.fromfile(DEMO)
    assert cfg.default_hooks.thread_policy.type == 'ThreadPolicyHook'
    assert cfg.train_dataloader.num_workers == 0
    assert cfg.val_dataloader.num_workers == 0
    set_data_root(cfg, str(synthetic_ssv2))
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.vis_backends = []
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].update(num_workers=1, persistent_workers=True)
    runner = Runner.from_cfg(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner._val_loop = runner.build_val_loop(runner._val_loop)
    assert [type(h) for h in runner.hooks].count(ThreadPolicyHook) == 1
    assert ThreadPolicyHook.concurrent_workers(runner, 'train') == 2

    # A test-only run (tools/test.py): the test loader's one worker.
    runner._test_loop = runner.build_test_loop(runner._test_loop)
    assert ThreadPolicyHook.concurrent_workers(runner, 'test') == 1
    machine(2)
    hook = ThreadPolicyHook()
    with torch_threads(2):
        hook.before_test(runner)
        assert torch.get_num_threads() == 1
        hook.after_run(runner)
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize(
    'train,val,alive',
    [
        ((1, True), (1, True), 2),  # the demo
        ((1, True), (1, False), 2),  # val workers start beside train's
        ((1, False), (1, True), 2),  # train workers start beside val's
        ((1, False), (1, False), 1),  # one set at a time
        ((2, False), (3, False), 3),
        ((8, True), (8, True), 16),  # the SSv2 recipe
        ((4, True), None, 4),  # no validation
        ((0, False), (0, False), 0),
    ],
)
def test_alive_workers(train, val, alive):
    def loader(spec):
        return (
            None
            if spec is None
            else dict(num_workers=spec[0], persistent_workers=spec[1])
        )

    assert alive_workers(loader(train), loader(val)) == alive
