"""Checkpoints that survive a kill at any moment and load without running code.

mmengine 0.10.7 writes a checkpoint with ``open(path, 'wb')`` to its final
name (``LocalBackend.put``), deletes the oldest kept checkpoint *before*
writing the new one, and then overwrites ``last_checkpoint`` in place
(``CheckpointHook._save_checkpoint_with_step``). A job killed in the middle
leaves a truncated ``epoch_N.pth``, or a ``last_checkpoint`` that is empty or
names a deleted file, and ``--resume`` then fails. :func:`install` fixes this
in one place, on import of :mod:`tsm_plugin`:

* every local write through mmengine's file backend, and every ``open(...,
  'w')`` in ``mmengine.hooks.checkpoint_hook`` (``last_checkpoint``), goes to
  a temporary file in the same folder, is fsynced, and is renamed over the
  final name (``os.replace`` is atomic on POSIX and Windows); a reader sees
  the old file or the complete new one, never a part;
* ``CheckpointHook`` removes superseded checkpoints only after the new one
  and ``last_checkpoint`` are complete, so ``max_keep_ckpts=1`` is safe too;
* ``--resume`` without a path (:func:`find_resumable_checkpoint`) follows
  ``last_checkpoint`` only to a complete file, else falls back to the newest
  complete checkpoint in the work dir, and clears temporaries a killed save
  left behind;
* local checkpoints load through :func:`load_checkpoint_file`:
  ``torch.load(weights_only=True)`` with the allow-list of
  :func:`tsm_plugin.compat.checkpoint_safe_globals` (exactly what mmengine
  and mmaction2 checkpoints hold), so a checkpoint carrying any other pickled
  object is refused with one line naming the file and the object, and
  nothing in it runs; truncated or foreign files fail with one line too.
"""
import glob
import os
import os.path as osp
import pickle
import re
import uuid
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

from ..errors import InputError

TMP_SUFFIX = '.tmp'
_INSTALLED = False


class CheckpointError(InputError):
    """A checkpoint file that is missing, incomplete, foreign or refused."""


def _fsync_dir(path: str) -> None:
    """Persist a rename: fsync the folder that holds it (POSIX only)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """A file that appears under its name only once completely written.

    Data goes to ``.<name>.<random>.tmp`` in the destination folder; on a
    clean close it is flushed, fsynced and renamed over ``path``. On an
    exception the temporary file is removed and ``path`` is untouched. A
    process killed before the rename leaves ``path`` as it was (plus the
    temporary file, which :func:`remove_stale_temporaries` clears).

    Args:
        path (str): Final file name.
        mode (str): ``'wb'`` or ``'w'``.
        encoding (str, optional): Text encoding for ``'w'``.
    """

    def __init__(self, path, mode: str = 'wb', encoding: Optional[str] = None):
        if mode not in ('w', 'wb', 'wt'):
            raise ValueError(f'AtomicFile writes only, got mode {mode!r}')
        self.path = osp.abspath(os.fspath(path))
        folder = osp.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        self.tmp_path = osp.join(
            folder, f'.{osp.basename(self.path)}.{uuid.uuid4().hex[:8]}'
            f'{TMP_SUFFIX}')
        # os.open with 0o666 keeps the usual umask permissions (mkstemp
        # would make checkpoints readable by their owner only).
        fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o666)
        self._file = os.fdopen(
            fd, mode, encoding=None if 'b' in mode else encoding or 'utf-8')
        self._done = False

    def write(self, data):
        return self._file.write(data)

    def commit(self) -> None:
        """Flush, fsync and rename over the final name."""
        if self._done:
            return
        self._done = True
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.tmp_path, self.path)
        _fsync_dir(osp.dirname(self.path))

    def discard(self) -> None:
        """Drop the temporary file; the final name is left untouched."""
        if self._done:
            return
        self._done = True
        self._file.close()
        try:
            os.remove(self.tmp_path)
        except FileNotFoundError:
            pass

    close = commit

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


def atomic_write(path, data) -> None:
    """Write ``bytes`` or ``str`` to ``path`` atomically (see AtomicFile)."""
    mode = 'wb' if isinstance(data, (bytes, bytearray, memoryview)) else 'w'
    with AtomicFile(path, mode) as f:
        f.write(data)


def _checkpoint_open(file, mode='r', *args, **kwargs):
    """``open`` for ``mmengine.hooks.checkpoint_hook``: writes are atomic."""
    if isinstance(file, (str, os.PathLike)) and mode in ('w', 'wt', 'wb'):
        return AtomicFile(file, mode, kwargs.get('encoding'))
    return open(file, mode, *args, **kwargs)


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (zip format).

    Cheap: reads the zip's central directory (at the end of the file), which
    a truncated file lacks. Does not unpickle anything.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith('/data.pkl') or n == 'data.pkl'
                       for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """Load a local checkpoint safely; one-line errors for bad files.

    ``weights_only=True`` is passed explicitly, so neither torch's default
    nor ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` can turn it off. Only tensors,
    containers, numbers, strings and the globals of
    :func:`tsm_plugin.compat.checkpoint_safe_globals` are rebuilt.

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
    if not osp.isfile(filename):
        raise CheckpointError(f'checkpoint not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        found = re.search(r'GLOBAL (\S+)', text)
        if found or 'checkpoint refused' in text:
            what = (found.group(1) if found else text.splitlines()[-1])
            raise CheckpointError(
                f'checkpoint refused: {filename} holds a pickled object that '
                f'mmengine/mmaction2 checkpoints never contain ({what}); '
                'nothing from it was run. Load only checkpoints from a '
                'trusted source.') from None
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
            'while being written or copied?') from None


def _load_from_local(filename, map_location):
    """mmengine's ``CheckpointLoader`` scheme for local paths."""
    return load_checkpoint_file(filename, map_location)


def remove_stale_temporaries(work_dir: str) -> List[str]:
    """Delete temporaries of saves that a kill interrupted; returns them."""
    removed = []
    for path in glob.glob(osp.join(glob.escape(work_dir), f'.*{TMP_SUFFIX}')):
        try:
            os.remove(path)
            removed.append(path)
        except OSError:  # another rank got there first
            pass
    return removed


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
    from mmengine.dist import is_main_process
    if is_main_process():
        for path in remove_stale_temporaries(work_dir):
            print_log(f'Removed {path}: the save that wrote it was '
                      'interrupted.', logger='current')
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        print_log('Did not find last_checkpoint to be resumed.',
                  logger='current')
        return None
    with open(pointer) as f:
        named = f.read().strip()
    for path in (named, osp.join(work_dir, osp.basename(named))):
        if named and is_complete_checkpoint(path):
            return path
    complete = [p for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
                if is_complete_checkpoint(p)]
    if not complete:
        print_log(f'{pointer} names {named!r}, which is missing or '
                  'incomplete, and no complete checkpoint is in '
                  f'{work_dir}: starting from scratch.',
                  logger='current', level=30)
        return None
    newest = max(complete, key=osp.getmtime)
    print_log(f'{pointer} names {named!r}, which is missing or incomplete; '
              f'resuming from the newest complete checkpoint {newest}.',
              logger='current', level=30)
    return newest


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
            if path in keep:  # re-saved under the same name in this call
                continue
            try:
                getattr(self._backend, op)(path)
            except FileNotFoundError:
                pass


def _remove_after_save(method):
    """Wrap a CheckpointHook save method: delete old files only after it."""
    import functools

    @functools.wraps(method)
    def save(self, runner, *args, **kwargs):
        backend = getattr(self, 'file_backend', None)
        if backend is None or isinstance(backend, _DeferredRemovals):
            return method(self, runner, *args, **kwargs)
        deferred = self.file_backend = _DeferredRemovals(backend)
        try:
            result = method(self, runner, *args, **kwargs)
        finally:
            self.file_backend = backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        deferred.flush(keep)
        return result

    save._tsm_plugin_fixed = True
    return save


def install() -> bool:
    """Make mmengine's checkpoint writes atomic and its loads safe.

    Idempotent. Returns whether anything was installed.
    """
    global _INSTALLED
    if _INSTALLED:
        return False
    from mmengine.fileio.backends.local_backend import LocalBackend
    from mmengine.hooks import checkpoint_hook
    from mmengine.runner import checkpoint as mm_checkpoint
    from mmengine.runner import runner as mm_runner

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        with AtomicFile(filepath, 'w', encoding) as f:
            f.write(obj)

    LocalBackend.put = put
    LocalBackend.put_text = put_text
    # Module globals shadow builtins: only this module's open() changes.
    checkpoint_hook.open = _checkpoint_open
    hook_cls = checkpoint_hook.CheckpointHook
    for name in ('_save_checkpoint_with_step', '_save_best_checkpoint'):
        setattr(hook_cls, name, _remove_after_save(getattr(hook_cls, name)))
    mm_checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    mm_runner.find_latest_checkpoint = find_resumable_checkpoint
    _INSTALLED = True
    return True
