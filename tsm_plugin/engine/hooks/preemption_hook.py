"""Save and stop cleanly when the cluster preempts the job.

SLURM sends SIGTERM before killing a preempted or cancelled job, and the
warning signal of ``--signal=USR1@SECONDS`` before the time limit. On
either, :class:`PreemptionHook` lets the current iteration finish, saves
``iter_<N>.pth`` through the config's
:class:`~tsm_plugin.engine.hooks.AtomicCheckpointHook` (atomic, pointed at
by ``last_checkpoint``, counted by ``max_keep_ckpts``) and stops the run
with :class:`Preempted`, which ``tools/train.py`` turns into exit status
:attr:`~tsm_plugin.errors.ExitStatus.PREEMPTED` (3).
``tools/slurm_train.sh`` requeues the job on that status; ``--resume``
continues at the next iteration with the same LR schedule and data order
(:class:`~tsm_plugin.engine.loops.ResumableEpochBasedTrainLoop`).
"""

import atexit
import multiprocessing as mp
import os
import os.path as osp
import signal
import threading
import weakref
from typing import Optional, Sequence

from mmaction.registry import HOOKS
from mmengine.dist import all_reduce, barrier, get_world_size, is_main_process
from mmengine.hooks import Hook

from ...errors import ExitStatus
from ..checkpoint import write_pointer
from .checkpoint_hook import find_checkpoint_hook

PREEMPTED_EXIT_CODE = int(ExitStatus.PREEMPTED)


class Preempted(Exception):
    """The run stopped on a signal after saving a resumable checkpoint.

    Attributes:
        signal_name (str): e.g. ``'SIGTERM'``.
        checkpoint (str): The checkpoint saved (path on rank 0).
        exit_code (int): :data:`PREEMPTED_EXIT_CODE`.
    """

    exit_code = PREEMPTED_EXIT_CODE

    def __init__(self, signal_name: str, checkpoint: str):
        self.signal_name = signal_name
        self.checkpoint = checkpoint
        super().__init__(
            f'{signal_name} received: saved {checkpoint}; '
            f'rerun with --resume to continue (exit status '
            f'{PREEMPTED_EXIT_CODE})'
        )


def shutdown_workers(loader) -> None:
    """Stop a dataloader's persistent workers now, and forget them.

    Left to the garbage collector or the interpreter's exit, torch joins
    each one with a timeout (seconds per worker) or terminates it under its
    SIGCHLD handler; a stopped run should not leave either behind. A loader
    without live workers (or not a torch DataLoader) is left as it is.
    """
    workers = getattr(loader, '_iterator', None)
    if workers is not None and hasattr(workers, '_shutdown_workers'):
        workers._shutdown_workers()
        loader._iterator = None


class GuardedWorkerInit:
    """``worker_init_fn`` wrapper: a dataloader worker survives ``signals``
    while the main process trains, then runs the original init (mmengine's
    seeding).

    SLURM signals every process of the job; torch's workers die on SIGTERM
    and the main process then fails at once ("DataLoader worker ... is
    killed by signal"), before it can save. While ``training`` (shared) is
    set, the worker ignores the signal: the main process saves and shuts it
    down. Once it is cleared (training over, or the main process exiting),
    the signal ends the worker, so multiprocessing's exit-time
    ``terminate()`` still works. Picklable for spawned workers.
    """

    def __init__(self, init_fn, signals, training):
        self.init_fn = init_fn
        self.signals = list(signals)
        self.training = training

    def _on_signal(self, signum, frame) -> None:
        if not self.training.value:
            # What torch's own worker handler does when its parent stops it:
            # exit quietly (a death by signal would make the parent's
            # SIGCHLD handler report a "killed" worker).
            os._exit(0)

    def __call__(self, worker_id: int) -> None:
        for signum in self.signals:
            signal.signal(signum, self._on_signal)
        if self.init_fn is not None:
            self.init_fn(worker_id)


#: The hooks holding signals in this process.
_HOLDING: 'weakref.WeakSet[PreemptionHook]' = weakref.WeakSet()


def _give_back_in_child() -> None:
    """After a fork, in the child: the handlers the hooks replaced.

    A child of the trainer (a worker pool) then ends on SIGTERM as it would
    without the hook, even while stuck in native code where no Python
    handler runs; with the hook's flag-only handler it could not be
    terminated, and multiprocessing's ``Pool.terminate()`` would wait on it
    forever. Dataloader workers install their own
    (:class:`GuardedWorkerInit`). The shared ``training`` flag is the
    parent's and stays as it is.
    """
    for hook in list(_HOLDING):
        hook._give_back()


os.register_at_fork(after_in_child=_give_back_in_child)


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On SIGTERM/SIGUSR1: finish the iteration, save, exit with status 3.

    Handlers are installed in ``before_train`` (main thread of each rank
    only) and the previous ones restored when training ends or stops. A
    signal only sets a flag; the save happens at the end of the iteration
    (or validation step) in progress, after the LR scheduler has stepped,
    so the checkpoint holds a whole iteration. Ranks agree on the flag with
    an all-reduce, so all stop at the same iteration. The train and val
    dataloader workers keep serving through the signal
    (:class:`GuardedWorkerInit`).

    Args:
        signals (Sequence[str]): Signal names to catch.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
    """

    priority = 'VERY_LOW'  # after ParamSchedulerHook, LoggerHook, Checkpoint

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1')):
        self.signals = [
            getattr(signal, name) for name in signals if hasattr(signal, name)
        ]  # no SIGUSR1 on Windows
        self._received: Optional[int] = None
        self._previous = {}
        self._pid = None
        # Shared with the dataloader workers; cleared when training ends and
        # at interpreter exit (atexit runs before multiprocessing's own exit
        # handler, which terminates the workers).
        self._training = mp.Value('b', 0, lock=False)
        atexit.register(self._stop_guarding)

    def _stop_guarding(self) -> None:
        self._training.value = 0

    def _on_signal(self, signum, frame) -> None:
        if os.getpid() == self._pid:
            self._received = signum
            return
        # A forked child, signalled before _give_back_in_child ran: what
        # the handler the hook replaced would have done.
        previous = self._previous.get(signum)
        self._give_back()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)

    @staticmethod
    def _loaders(runner) -> list:
        loaders = [runner.train_dataloader]
        if runner.val_loop is not None:
            loaders.append(runner.val_loop.dataloader)
        return loaders

    def _guard_workers(self, runner) -> None:
        for loader in self._loaders(runner):
            init_fn = getattr(loader, 'worker_init_fn', None)
            if getattr(loader, 'num_workers', 0) > 0 and not isinstance(
                init_fn, GuardedWorkerInit
            ):
                loader.worker_init_fn = GuardedWorkerInit(
                    init_fn, self.signals, self._training
                )

    def before_train(self, runner) -> None:
        self._received = None
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning(
                'PreemptionHook: not in the main thread, '
                'signals are not caught'
            )
            return
        self._pid = os.getpid()
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        _HOLDING.add(self)
        self._guard_workers(runner)
        self._training.value = 1

    def _restore(self) -> None:
        self._stop_guarding()
        self._give_back()

    def _give_back(self) -> None:
        _HOLDING.discard(self)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def after_train(self, runner) -> None:
        self._restore()

    def _should_stop(self) -> bool:
        if get_world_size() == 1:
            return self._received is not None
        import torch

        flag = torch.tensor([0 if self._received is None else 1])
        all_reduce(flag, op='max')
        return bool(flag.item())

    def _save_and_stop(self, runner, iteration: int) -> None:
        name = (
            signal.Signals(self._received).name
            if self._received is not None
            else 'signal on another rank'
        )
        filename = f'iter_{iteration}.pth'
        path = osp.join(runner.work_dir, filename)
        runner.logger.info(
            f'{name} received: saving {path} at epoch '
            f'{runner.epoch + 1}, iteration {iteration}, then '
            f'exiting with status {PREEMPTED_EXIT_CODE}'
        )
        hook = find_checkpoint_hook(runner)
        if hook is not None:
            path = hook.save_preemption_checkpoint(runner, iteration)
        else:  # a config without AtomicCheckpointHook: save it here
            # epoch: the one in progress; iter: iterations completed.
            runner.save_checkpoint(
                runner.work_dir,
                filename,
                save_optimizer=True,
                save_param_scheduler=True,
                meta=dict(epoch=runner.epoch, iter=iteration),
            )
            if is_main_process():
                write_pointer(runner.work_dir, path)
        barrier()  # no rank exits (and tears the job down) before the save
        self._restore()
        for loader in self._loaders(runner):
            # Persistent workers: stop them now, cleanly, rather than have
            # the interpreter's exit terminate them under torch's SIGCHLD
            # handler (a spurious "DataLoader worker killed" error).
            shutdown_workers(loader)
        raise Preempted(name, path)

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        if self._should_stop():
            self._save_and_stop(runner, runner.iter + 1)

    def after_val_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        # Validation inside training runs after the epoch (runner.epoch is
        # already the next one): the checkpoint resumes at that epoch.
        if self._previous and self._should_stop():
            self._save_and_stop(runner, runner.iter)


def release_signals(runner) -> None:
    """Give back the handlers a :class:`PreemptionHook` of ``runner``
    installed; for a run that ended by an exception, after which mmengine
    calls no hook (idempotent)."""
    for hook in runner.hooks:
        if isinstance(hook, PreemptionHook):
            hook._restore()
