"""Helpers shared by the tests of every folder.

Import them as ``from tests.helpers import ...``: pytest puts the repository
root on ``sys.path`` (``pythonpath`` in pyproject.toml), where ``tests`` is
a namespace package. This module imports only the standard library, pytest
and torch at its top (``tests/compat`` imports it where the stack must be
seen unpatched); mmengine is imported where a helper needs it.
"""

import copy
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')


@contextmanager
def torch_threads(threads: int = 1):
    """Run the block with ``threads`` torch threads, then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def one_thread_fixture(scope: str = 'function'):
    """An autouse fixture running each test (or module, ``scope``) with one
    torch thread: the same float reductions in every run, and on 2 shared
    cores faster than two (OpenMP's waiting threads make tiny convs many
    times slower). Use as ``one_thread = one_thread_fixture('module')``.
    """

    @pytest.fixture(scope=scope, autouse=True)
    def one_thread():
        with torch_threads(1):
            yield

    return one_thread


class _Capture:
    """Hook body: the state a (resumed) run starts training from."""

    priority = 'VERY_LOW'  # after the checkpoint was loaded

    def __init__(self):
        self.seen = {}

    @property
    def start(self):
        """``(epoch, iter)`` at ``before_train``."""
        return self.seen['epoch'], self.seen['iter']

    def before_train(self, runner):
        schedulers = runner.param_schedulers
        self.seen = dict(
            epoch=runner.epoch,
            iter=runner.iter,
            optimizer=copy.deepcopy(runner.optim_wrapper.state_dict()),
            schedulers=copy.deepcopy(
                [s.state_dict() for s in schedulers or []]
            ),
            weights={
                k: v.clone() for k, v in runner.model.state_dict().items()
            },
        )


def capture_hook():
    """A hook recording in ``.seen`` the epoch, iteration, optimizer and
    scheduler states and weights at ``before_train`` (``.start`` is
    ``(epoch, iter)``)."""
    from mmengine.hooks import Hook

    hook = type('CaptureHook', (_Capture, Hook), {})()
    _Capture.__init__(hook)
    return hook


class Payload:
    """Unpickling this creates a file: the side effect that must not happen."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return Path.touch, (Path(self.target),)


def stop_workers(runner):
    """Shut a runner's persistent dataloader workers down now: left to the
    garbage collector, torch waits ~5 s per worker, which would land on
    whichever later test happens to collect them."""
    from tsm_plugin.engine.hooks import shutdown_workers

    for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
        shutdown_workers(getattr(loop, 'dataloader', None))
