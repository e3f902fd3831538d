"""One torch thread per dataloader worker; the main process gets the rest.

torch starts as many intra-op (OpenMP) threads as the machine has cores,
in the main process, whatever the dataloader workers need. While the main
process waits for a batch its OpenMP threads spin on the cores the workers
decode on; on a 2-core machine with one worker that made training 5-9x
slower. :class:`ThreadPolicyHook`, named in
``configs/_base_/default_runtime.py``, sets before the run::

    main process threads = max(1, cores - workers alive at once)

where ``cores`` are those this process may run on
(``os.sched_getaffinity``) and the workers are the train loader's plus the
val loader's when one set stays alive while the other runs (persistent
workers). It never raises the count above the one in place (torch's default
of one per physical core, or a lower ``torch.set_num_threads`` of the
caller), and an explicit ``OMP_NUM_THREADS`` wins (``torchrun`` sets it to
1 per rank). Each worker computes in one thread: torch's worker loop calls
``torch.set_num_threads(1)``, and ``env_cfg.mp_cfg.opencv_num_threads=0``
turns off OpenCV's own pool.
"""

import os
from typing import Optional

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ...errors import ConfigValueError
from ...utils.workers import available_cores


def _option(loader, key: str, default):
    """A dataloader option, from a built DataLoader or its config dict."""
    if isinstance(loader, dict):
        return loader.get(key, default)
    return getattr(loader, key, default)


def _workers(loader) -> int:
    return int(_option(loader, 'num_workers', 0) or 0)


def _persistent(loader) -> bool:
    return bool(_option(loader, 'persistent_workers', False))


def alive_workers(train_loader, val_loader=None) -> int:
    """Most dataloader workers alive at once in a training run.

    While it trains: the train loader's workers, plus the val loader's if
    they persist between validations. While it validates: the val loader's,
    plus the train loader's if they persist between epochs.

    Args:
        train_loader: A built DataLoader or its config dict.
        val_loader: Likewise, or None without validation.
    """
    train, val = _workers(train_loader), _workers(val_loader)
    while_training = train + (val if _persistent(val_loader) else 0)
    while_validating = val + (train if _persistent(train_loader) else 0)
    return max(while_training, while_validating)


def _loop_loader(loop):
    """The dataloader of a built loop (None for a config dict or None)."""
    return getattr(loop, 'dataloader', None)


@HOOKS.register_module()
class ThreadPolicyHook(Hook):
    """Before training (or a val/test-only run), size the main process's
    torch thread pool to the cores the dataloader workers leave free.

    Args:
        threads (int, optional): Use exactly this many threads in the main
            process (even above the current count, and over
            ``OMP_NUM_THREADS``). None (default): the policy above.
    """

    priority = 'VERY_HIGH'  # before other hooks start work in before_train

    def __init__(self, threads: Optional[int] = None) -> None:
        if threads is not None and (
            not isinstance(threads, int) or threads < 1
        ):
            raise ConfigValueError(
                f'ThreadPolicyHook threads={threads!r}: must be an integer '
                '>= 1 (or None for the automatic policy)'
            )
        self.threads = threads
        self._previous: Optional[int] = None
        self._training = False

    @staticmethod
    def concurrent_workers(runner, stage: str) -> int:
        """Dataloader workers alive at the same time in a ``stage`` run
        (``'train'``, ``'val'`` or ``'test'``; see :func:`alive_workers`).
        """
        if stage == 'train':
            return alive_workers(
                runner.train_dataloader, _loop_loader(runner._val_loop)
            )
        loop = runner.val_loop if stage == 'val' else runner.test_loop
        return _workers(_loop_loader(loop))

    def _apply(self, runner, stage: str) -> None:
        current = torch.get_num_threads()
        cores, workers = (
            available_cores(),
            self.concurrent_workers(runner, stage),
        )
        if self.threads is not None:
            threads, why = self.threads, 'set by ThreadPolicyHook(threads)'
        elif os.environ.get('OMP_NUM_THREADS'):
            threads = current
            why = (
                f'OMP_NUM_THREADS={os.environ["OMP_NUM_THREADS"]} is '
                'set explicitly'
            )
        else:
            threads = min(current, max(1, cores - workers))
            why = (
                f'{cores} cores - {workers} dataloader workers, at most '
                f'the {current} in place'
            )
        runner.logger.info(
            f'Threads: {threads} torch threads in the main process ({why}); '
            'one in each dataloader worker.'
        )
        if threads != current:
            self._previous = current
            torch.set_num_threads(threads)

    def before_train(self, runner) -> None:
        """Size the pool for training (and the validation inside it)."""
        self._training = True
        self._apply(runner, 'train')

    def before_val(self, runner) -> None:
        """Size the pool for a val-only run (``runner.val()``)."""
        if not self._training:
            self._apply(runner, 'val')

    def before_test(self, runner) -> None:
        """Size the pool for a test-only run (``runner.test()``)."""
        if not self._training:
            self._apply(runner, 'test')

    def after_run(self, runner) -> None:
        """Give the caller its thread count back (in-process runs)."""
        if self._previous is not None:
            torch.set_num_threads(self._previous)
            self._previous = None
        self._training = False


__all__ = ['ThreadPolicyHook', 'alive_workers', 'available_cores']
