"""The one module that writes and reads checkpoints.

* Writing: :class:`AtomicLocalBackend`, an mmengine file backend whose
  ``put``/``put_text`` go through :class:`~tsm_plugin.utils.atomic.AtomicFile`
  (temporary file, fsync, rename), registered as ``'local_atomic'``.
  :class:`~tsm_plugin.engine.hooks.AtomicCheckpointHook` (the config's
  checkpoint hook) saves through it; :func:`save_checkpoint_file` and
  :func:`write_pointer` are the same writes for code outside a Runner
  (preemption, preflight, benchmarks).
* Reading: :func:`load_checkpoint_file`, ``torch.load(weights_only=True)``
  with the allow-list of :mod:`tsm_plugin.compat.checkpoint_globals`, so a
  checkpoint carrying any other pickled object is refused with one line
  naming the file and the object, and nothing in it runs; truncated or
  foreign files fail with one line too. It is mmengine's loader for local
  paths (``CheckpointLoader``'s scheme ``''``), so ``load_from`` and
  ``--resume`` use it.
* Resuming: :func:`find_resumable_checkpoint` follows ``last_checkpoint``
  only to a complete file; :func:`last_complete_checkpoint` names it in the
  one line of a failed write (:class:`~tsm_plugin.errors.WriteError`).
"""

import glob
import io
import os.path as osp
import pickle
import re
import zipfile
from typing import Optional

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import InputError
from ..utils.atomic import AtomicFile, atomic_write

#: ``backend_args`` that make mmengine write checkpoints atomically.
ATOMIC_BACKEND_ARGS = dict(backend='local_atomic')
POINTER = 'last_checkpoint'


class CheckpointError(InputError):
    """A checkpoint file that is missing, incomplete, foreign or refused."""


@register_backend('local_atomic')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, writing through a temporary file.

    A reader (or a job killed mid-write) sees the old file or the complete
    new one, never a part. Reads, listings and removals are
    ``LocalBackend``'s.
    """

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding)


def save_checkpoint_file(checkpoint: dict, path: str) -> None:
    """``torch.save`` ``checkpoint`` to ``path`` atomically."""
    import torch

    with io.BytesIO() as f:
        torch.save(checkpoint, f)
        atomic_write(path, f.getvalue())


def write_pointer(work_dir: str, checkpoint: str) -> None:
    """Point ``<work_dir>/last_checkpoint`` at ``checkpoint`` atomically."""
    atomic_write(osp.join(work_dir, POINTER), checkpoint)


def existing_checkpoint(path: str, what: str = 'checkpoint') -> str:
    """``path`` if it is a file, else a one-line :class:`CheckpointError`."""
    if not osp.isfile(osp.expanduser(str(path))):
        raise CheckpointError(f'{what} not found: {path}')
    return path


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (zip format).

    Cheap: reads the zip's central directory (at the end of the file), which
    a truncated file lacks. Does not unpickle anything.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(
                n.endswith('/data.pkl') or n == 'data.pkl'
                for n in zf.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """Load a local checkpoint safely; one-line errors for bad files.

    ``weights_only=True`` is passed explicitly, so neither torch's default
    nor ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` can turn it off. Only tensors,
    containers, numbers, strings and the allow-listed globals are rebuilt.

    Args:
        filename (str): Path of the checkpoint.
        map_location: As :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        CheckpointError: missing, incomplete/corrupt, not a checkpoint, or
            refused because it pickles an object outside the allow-list.
    """
    import torch

    filename = osp.expanduser(str(filename))
    existing_checkpoint(filename)
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True
        )
    except pickle.UnpicklingError as e:
        text = str(e)
        found = re.search(r'GLOBAL (\S+)', text)
        if found or 'checkpoint refused' in text:
            what = found.group(1) if found else text.splitlines()[-1]
            raise CheckpointError(
                f'checkpoint refused: {filename} holds a pickled object that '
                f'mmengine/mmaction2 checkpoints never contain ({what}); '
                'nothing from it was run. Load only checkpoints from a '
                'trusted source.'
            ) from None
        raise CheckpointError(
            f'not a PyTorch checkpoint or corrupt: {filename} '
            f'({text.splitlines()[0] if text else "unpickling failed"})'
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as e:
        if is_complete_checkpoint(filename):
            raise  # a whole file failing is not a file problem (e.g. device)
        size = osp.getsize(filename)
        raise CheckpointError(
            f'checkpoint is incomplete or not a PyTorch checkpoint: '
            f'{filename} ({size} bytes; {type(e).__name__}). Was it cut off '
            'while being written or copied?'
        ) from None


def _named(work_dir: str) -> str:
    """What ``<work_dir>/last_checkpoint`` names ('' if nothing)."""
    try:
        with open(osp.join(work_dir, POINTER)) as f:
            return f.read().strip()
    except OSError:
        return ''


def last_complete_checkpoint(work_dir: str) -> str:
    """The complete checkpoint ``last_checkpoint`` in ``work_dir`` names
    (as written, else by its base name in ``work_dir``); '' if none.
    ``--resume`` continues from it."""
    named = _named(work_dir)
    for path in (named, osp.join(work_dir, osp.basename(named))):
        if named and is_complete_checkpoint(path):
            return path
    return ''


def last_complete_checkpoint_near(path: str, levels: int = 3) -> str:
    """:func:`last_complete_checkpoint` of the nearest folder at most
    ``levels`` up from ``path`` that holds a ``last_checkpoint`` (a log or
    scalars file sits in ``<work_dir>/<timestamp>/[vis_data/]``); ''."""
    folder = osp.dirname(osp.abspath(path))
    for _ in range(levels):
        if osp.isfile(osp.join(folder, POINTER)):
            return last_complete_checkpoint(folder)
        folder = osp.dirname(folder)
    return ''


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location=None) -> dict:
    """mmengine's loader for local paths (``load_from``, ``--resume``,
    ``load_checkpoint``): :func:`load_checkpoint_file`. (mmengine logs the
    loader's name from its 11th character: "local".)"""
    return load_checkpoint_file(filename, map_location)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (no path) continues from, or None.

    ``last_checkpoint`` wins when it names a complete file (looked up as
    written, then by its base name in ``work_dir``, so a moved work dir or
    a different cwd still works). If it names a missing or incomplete file,
    the newest complete ``*.pth`` in ``work_dir`` is used, with a warning.
    Without ``last_checkpoint`` the run starts afresh (mmengine's rule).

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str or None: Path of the checkpoint to resume from.
    """
    pointer = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer):
        print_log(f'No {pointer}: starting from scratch.', logger='current')
        return None
    named = _named(work_dir)
    found = last_complete_checkpoint(work_dir)
    if found:
        return found
    complete = [
        p
        for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
        if is_complete_checkpoint(p)
    ]
    if not complete:
        print_log(
            f'{pointer} names {named!r}, which is missing or '
            'incomplete, and no complete checkpoint is in '
            f'{work_dir}: starting from scratch.',
            logger='current',
            level=30,
        )
        return None
    newest = max(complete, key=osp.getmtime)
    print_log(
        f'{pointer} names {named!r}, which is missing or incomplete; '
        f'resuming from the newest complete checkpoint {newest}.',
        logger='current',
        level=30,
    )
    return newest


__all__ = [
    'ATOMIC_BACKEND_ARGS',
    'AtomicFile',
    'AtomicLocalBackend',
    'CheckpointError',
    'existing_checkpoint',
    'find_resumable_checkpoint',
    'is_complete_checkpoint',
    'last_complete_checkpoint',
    'last_complete_checkpoint_near',
    'load_checkpoint_file',
    'save_checkpoint_file',
    'write_pointer',
]
