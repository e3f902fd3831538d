"""Checkpoints that survive a kill at any moment, and a bounded disk.

mmengine 0.10.7's ``CheckpointHook`` writes a checkpoint with ``open(path,
'wb')`` to its final name, deletes the oldest kept checkpoint *before*
writing the new one, and then overwrites ``last_checkpoint`` in place. A job
killed in the middle leaves a truncated ``epoch_N.pth``, or a
``last_checkpoint`` that is empty or names a deleted file, and ``--resume``
then fails. :class:`AtomicCheckpointHook`, named in
``configs/_base_/default_runtime.py``, keeps mmengine's behaviour and
arguments and changes the order and the writes:

* the checkpoint goes through :class:`~tsm_plugin.engine.checkpoint.
  AtomicLocalBackend` (temporary file, fsync, rename);
* ``last_checkpoint`` is replaced atomically, after the checkpoint is
  complete;
* superseded checkpoints are removed only then, so ``max_keep_ckpts=1`` is
  safe too; the previous best checkpoint likewise;
* the preemption checkpoints (``iter_N.pth``,
  :class:`~tsm_plugin.engine.hooks.PreemptionHook`) are saved here and count
  towards ``max_keep_ckpts``, so a job preempted 40 times keeps as few files
  as one that never was;
* with several processes, each rank's buffers (BatchNorm statistics) go
  into the checkpoint and come back to that rank on resume
  (:mod:`~tsm_plugin.engine.rank_buffers`), so a run resumed mid-epoch
  ends with the weights of one that never stopped;
* temporaries of a killed save are removed when training starts;
* a save the disk refuses (no space, a quota, permission) stops the run with
  one line naming the file, its size, the space free and the last complete
  checkpoint (:class:`~tsm_plugin.errors.WriteError`, exit status 4); the
  work dir keeps that checkpoint and ``last_checkpoint``;
* at the start of training (rank 0), a warning if the output folder cannot
  hold the checkpoints this hook keeps
  (:func:`~tsm_plugin.utils.disk_space.checkpoint_space`).
"""

from collections import deque
from contextlib import contextmanager

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from ...errors import WriteError
from ...utils import disk_space
from ...utils.atomic import remove_stale_temporaries
from ..checkpoint import (
    ATOMIC_BACKEND_ARGS,
    last_complete_checkpoint,
    write_pointer,
)
from ..rank_buffers import META_KEY, gather_rank_buffers, restore_rank_buffers

#: message hub key of the kept checkpoints' file names (oldest first).
KEEP_KEY = 'keep_ckpt_files'


class _DeferredRemovals:
    """A file backend whose ``remove``/``rmtree`` wait until ``flush``."""

    def __init__(self, backend):
        self._backend = backend
        self.pending = []

    def remove(self, path):
        self.pending.append(('remove', path))

    def rmtree(self, path):
        self.pending.append(('rmtree', path))

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def flush(self, keep) -> None:
        for op, path in self.pending:
            if path in keep:  # re-saved under the same name meanwhile
                continue
            try:
                getattr(self._backend, op)(path)
            except FileNotFoundError:
                pass


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose saves are atomic and remove files last.

    Same arguments as mmengine's ``CheckpointHook`` (``interval``,
    ``max_keep_ckpts``, ``save_best``, ...). Without ``backend_args`` (local
    work dirs) checkpoints are written atomically; with other
    ``backend_args`` (a remote store) mmengine's backend writes them.
    """

    def __init__(self, *args, backend_args=None, **kwargs) -> None:
        super().__init__(
            *args,
            backend_args=backend_args or dict(ATOMIC_BACKEND_ARGS),
            **kwargs,
        )

    def before_train(self, runner) -> None:
        """Clear a killed save's temporaries; restore the kept files."""
        super().before_train(runner)
        if is_main_process():
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.info(
                    f'Removed {path}: the save that wrote it was interrupted.'
                )
        self.keep_files = deque(runner.message_hub.get_info(KEEP_KEY) or [])
        if is_main_process() and self.backend_args == ATOMIC_BACKEND_ARGS:
            self._warn_if_short(runner)

    def space_need(self, runner) -> disk_space.SpaceNeed:
        """What this hook's checkpoints of ``runner``'s model and optimizer
        need on disk at the fullest moment."""
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        optimizer = getattr(runner.optim_wrapper, 'optimizer', None)
        state = dict(type='?')  # several optimizers: assume Adam's 2 buffers
        if optimizer is not None:
            state = dict(type=type(optimizer).__name__, **optimizer.defaults)
        sizes = disk_space.checkpoint_sizes(model, state)
        if self.by_epoch:
            progress = runner.max_epochs - runner.epoch
        else:
            progress = runner.max_iters - runner.iter
        saves = disk_space.saves_in_run(
            progress, self.interval, self.save_last
        )
        checkpoint = dict(
            max_keep_ckpts=self.max_keep_ckpts,
            save_best=self.key_indicators if self.save_best else None,
            save_optimizer=self.save_optimizer,
        )
        return disk_space.checkpoint_space(sizes, checkpoint, saves)

    def _warn_if_short(self, runner) -> None:
        """Warn once if the output folder cannot hold the checkpoints."""
        try:
            enough, text = disk_space.space_report(
                self.space_need(runner), self.out_dir
            )
        except OSError as err:  # e.g. a folder that cannot be read
            runner.logger.info(f'Free space not checked: {err}')
            return
        if not enough:
            runner.logger.warning(
                f'Not enough space for the checkpoints: {text}. A save that '
                'does not fit stops the run (exit status 4) and keeps the '
                'last complete checkpoint.'
            )

    @contextmanager
    def _naming_last_good(self, runner):
        """A refused write names the last complete checkpoint."""
        try:
            yield
        except WriteError as err:
            err.last_checkpoint = last_complete_checkpoint(runner.work_dir)
            raise

    @contextmanager
    def _removing_last(self):
        """Defer the file backend's removals until the block succeeded."""
        backend = self.file_backend
        deferred = self.file_backend = _DeferredRemovals(backend)
        try:
            yield
        finally:
            self.file_backend = backend
        keep = {
            self.last_ckpt,
            getattr(self, 'best_ckpt_path', None),
            *getattr(self, 'best_ckpt_path_dict', {}).values(),
        }
        deferred.flush(keep)

    def save_checkpoint(self, runner, filename: str, meta: dict) -> str:
        """Save ``filename`` in the output folder, then point
        ``last_checkpoint`` at it, then remove what ``max_keep_ckpts`` no
        longer keeps. Returns the checkpoint's path."""
        if self.max_keep_ckpts > 0 and (
            not self.keep_files or self.keep_files[-1] != filename
        ):
            self.keep_files.append(filename)
        stale = []
        while (
            self.max_keep_ckpts > 0
            and len(self.keep_files) > self.max_keep_ckpts
        ):
            stale.append(self.keep_files.popleft())
        runner.message_hub.update_info(KEEP_KEY, list(self.keep_files))
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        buffers = gather_rank_buffers(runner.model)  # every rank, collective
        if buffers is not None:
            meta = dict(meta or {}, **{META_KEY: buffers})
        with self._naming_last_good(runner):
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
            if is_main_process():
                write_pointer(runner.work_dir, self.last_ckpt)
        if is_main_process():
            keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
            for name in stale:
                path = self.file_backend.join_path(self.out_dir, name)
                if path not in keep and self.file_backend.isfile(path):
                    self.file_backend.remove(path)
        return self.last_ckpt

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """This rank's own buffers, where the checkpoint holds every
        rank's."""
        restore_rank_buffers(checkpoint)

    def _save_checkpoint_with_step(self, runner, step, meta):
        self.save_checkpoint(runner, self.filename_tmpl.format(step), meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._naming_last_good(runner), self._removing_last():
            super()._save_best_checkpoint(runner, metrics)

    def save_preemption_checkpoint(self, runner, iteration: int) -> str:
        """Save ``iter_<iteration>.pth`` mid-epoch (kept like the others).

        ``meta``: the epoch in progress and the iterations completed; the
        loop resumes this epoch at batch ``iter - epoch * len(loader)``.
        """
        return self.save_checkpoint(
            runner,
            f'iter_{iteration}.pth',
            meta=dict(epoch=runner.epoch, iter=iteration),
        )


def find_checkpoint_hook(runner):
    """The runner's :class:`AtomicCheckpointHook`, or None."""
    return next(
        (h for h in runner.hooks if isinstance(h, AtomicCheckpointHook)), None
    )


__all__ = ['AtomicCheckpointHook', 'find_checkpoint_hook', 'KEEP_KEY']
