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
* temporaries of a killed save are removed when training starts.
"""

from collections import deque
from contextlib import contextmanager

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ...utils.atomic import remove_stale_temporaries
from ..checkpoint import ATOMIC_BACKEND_ARGS, write_pointer

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
            keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
            for name in stale:
                path = self.file_backend.join_path(self.out_dir, name)
                if path not in keep and self.file_backend.isfile(path):
                    self.file_backend.remove(path)
        return self.last_ckpt

    def _save_checkpoint_with_step(self, runner, step, meta):
        self.save_checkpoint(runner, self.filename_tmpl.format(step), meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removing_last():
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
