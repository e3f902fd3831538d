"""How much a run's checkpoints take on disk, and how much is free.

A checkpoint holds the model's parameters and buffers plus, for the resume
checkpoints, the optimizer's per-parameter state (SGD with momentum: one
buffer the size of the trainable parameters; Adam/AdamW: two). The work dir
holds at most, at the moment of a save:

* ``min(max_keep_ckpts, saves in the run) + 1`` resume checkpoints: the
  kept ones plus the one being written (its temporary file,
  :class:`~tsm_plugin.utils.atomic.AtomicFile`; the oldest is removed only
  once it is complete). The preemption saves of
  :class:`~tsm_plugin.engine.hooks.AtomicCheckpointHook` count among the
  kept ones; a config without it keeps each preemption save besides;
* two best checkpoints per ``save_best`` metric, weights only (mmengine
  saves them without the optimizer): the new one is written before the old
  one is removed.

:func:`checkpoint_space` counts this from a built model and the config's
optimizer and checkpoint hook; preflight fails on it and training warns at
start (:class:`~tsm_plugin.engine.hooks.AtomicCheckpointHook`).
"""

import errno
import glob
import os
import os.path as osp
import shutil
from typing import NamedTuple, Optional

from ..errors import WriteError, format_size

#: Optimizer (class name) -> per-parameter state buffers it keeps, given
#: its arguments (torch.optim's state, step counters not counted).
_STATE_BUFFERS = {
    'SGD': lambda a: 1 if a.get('momentum', 0) else 0,
    'Adam': lambda a: 3 if a.get('amsgrad') else 2,
    'AdamW': lambda a: 3 if a.get('amsgrad') else 2,
    'Adamax': lambda a: 2,
    'NAdam': lambda a: 2,
    'RAdam': lambda a: 2,
    'Adadelta': lambda a: 2,
    'Adagrad': lambda a: 1,
    'RMSprop': lambda a: (
        1 + bool(a.get('momentum', 0)) + bool(a.get('centered'))
    ),
    'Rprop': lambda a: 2,
    'ASGD': lambda a: 2,
}
#: Unknown optimizers: assume Adam's two buffers (most keep at most two).
_UNKNOWN_BUFFERS = 2
#: torch.save's per-tensor record (zip entry, 64-byte alignment, pickle).
_PER_TENSOR = 512
#: The rest of a checkpoint: meta (the config's text), message hub, the
#: LR schedulers' state. Measured below 100 KiB on our configs.
_FIXED = 256 * 1024


def nearest_existing(path: str) -> str:
    """``path``, or its nearest parent that exists (a work dir that is not
    created yet lives on its parent's filesystem)."""
    path = osp.abspath(os.fspath(path))
    while not osp.exists(path) and osp.dirname(path) != path:
        path = osp.dirname(path)
    return path


def free_bytes(path: str) -> int:
    """Bytes free to this user on ``path``'s filesystem (``statvfs``'s
    ``f_bavail``; a quota below it is not seen)."""
    return shutil.disk_usage(nearest_existing(path)).free


def write_error(
    err: OSError, path: Optional[str], needed: Optional[int] = None
) -> WriteError:
    """``err`` (a refused write of ``path``, if known) as a one-line
    :class:`~tsm_plugin.errors.WriteError` with the free space now."""
    free = None
    if path:
        path = osp.abspath(path)
        try:
            free = free_bytes(osp.dirname(path))
        except OSError:
            pass
    return WriteError(
        err.errno,
        err.strerror or os.strerror(err.errno or errno.EIO),
        path,
        needed=needed,
        free=free,
    )


def state_buffers(optimizer: dict) -> int:
    """Per-parameter state buffers of ``optimizer`` (``dict(type=...,
    **args)``, a config's ``optim_wrapper.optimizer``)."""
    kind = optimizer.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    rule = _STATE_BUFFERS.get(name.rsplit('.', 1)[-1])
    return _UNKNOWN_BUFFERS if rule is None else rule(optimizer)


class CheckpointSizes(NamedTuple):
    """Estimated bytes of one resume checkpoint and of one weights-only
    (best) checkpoint."""

    full: int
    weights: int


def checkpoint_sizes(model, optimizer: Optional[dict]) -> CheckpointSizes:
    """Estimate a checkpoint of ``model`` trained with ``optimizer``.

    Weights: every distinct tensor of the state dict (parameters and
    buffers). Optimizer state: :func:`state_buffers` times the trainable
    parameters. Plus torch.save's records and the config's text.

    Args:
        model (torch.nn.Module): The built model.
        optimizer (dict, optional): ``dict(type=..., **args)``; None: the
            checkpoints carry no optimizer state.
    """
    seen, weights, tensors = set(), 0, 0
    for tensor in model.state_dict().values():
        key = (tensor.data_ptr(), tensor.nbytes)
        if key not in seen:
            seen.add(key)
            weights += tensor.nbytes
        tensors += 1
    weights += tensors * _PER_TENSOR + _FIXED
    trainable = [p for p in model.parameters() if p.requires_grad]
    buffers = state_buffers(optimizer) if optimizer is not None else 0
    state = buffers * sum(p.nbytes + _PER_TENSOR for p in trainable)
    return CheckpointSizes(weights + state, weights)


def saves_in_run(
    max_progress: int, interval: int, save_last: bool = True
) -> int:
    """Checkpoints a run of ``max_progress`` epochs (or iterations) saves
    every ``interval``, plus the last one (``save_last``)."""
    if interval <= 0:
        return 1 if save_last else 0
    saves = max_progress // interval
    return saves + (save_last and max_progress % interval != 0)


class SpaceNeed(NamedTuple):
    """What a run's checkpoints need: counts, sizes, total."""

    full_files: int
    best_files: int
    sizes: CheckpointSizes
    rotates: bool = True  # saves remove old checkpoints (max_keep_ckpts)

    @property
    def total(self) -> int:
        """Bytes of all the files at the fullest moment."""
        return (
            self.full_files * self.sizes.full
            + self.best_files * self.sizes.weights
        )

    def describe(self) -> str:
        text = (
            f'{format_size(self.total)} = {self.full_files} checkpoints of '
            f'{format_size(self.sizes.full)}'
        )
        if self.best_files:
            text += (
                f' + {self.best_files} best of '
                f'{format_size(self.sizes.weights)} (weights only)'
            )
        return text


def checkpoint_space(
    sizes: CheckpointSizes,
    checkpoint: dict,
    saves: int,
    preemption_kept_apart: bool = False,
) -> SpaceNeed:
    """The files a checkpoint hook config keeps at its fullest moment.

    Args:
        sizes (CheckpointSizes): See :func:`checkpoint_sizes`.
        checkpoint (dict): The checkpoint hook's arguments
            (``max_keep_ckpts``, ``save_best``, ``save_optimizer``).
        saves (int): Saves in the whole run (:func:`saves_in_run`): the
            most kept when ``max_keep_ckpts`` is unlimited.
        preemption_kept_apart (bool): Preemption saves are kept besides the
            others (a config without ``AtomicCheckpointHook``).
    """
    keep = checkpoint.get('max_keep_ckpts', -1)
    kept = min(keep, saves) if keep > 0 else saves
    full = kept + 1 + bool(preemption_kept_apart)  # + the one being written
    best = checkpoint.get('save_best')
    metrics = 0 if not best else 1 if isinstance(best, str) else len(best)
    if not checkpoint.get('save_optimizer', True):
        sizes = CheckpointSizes(sizes.weights, sizes.weights)
    return SpaceNeed(full, 2 * metrics, sizes, rotates=keep > 0)


def space_report(need: SpaceNeed, folder: str):
    """(enough, text): whether ``folder``'s free space, plus the checkpoints
    already in it where the saves rotate them out, holds ``need``."""
    held = 0
    if need.rotates:
        held = sum(
            osp.getsize(p)
            for p in glob.glob(osp.join(glob.escape(folder), '*.pth'))
            if osp.isfile(p)
        )
    free = free_bytes(folder)
    enough = free + held >= need.total
    text = (
        f'{nearest_existing(folder)}: {format_size(free)} free'
        + (f' + {format_size(held)} of checkpoints in it' if held else '')
        + f'; the checkpoints need {need.describe()}'
    )
    return enough, text


__all__ = [
    'CheckpointSizes',
    'SpaceNeed',
    'checkpoint_sizes',
    'checkpoint_space',
    'free_bytes',
    'nearest_existing',
    'saves_in_run',
    'space_report',
    'state_buffers',
    'write_error',
]
