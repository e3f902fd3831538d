"""Files that appear under their name only once completely written.

A kill at any moment leaves either the old file or the complete new one,
never a part: checkpoints, ``last_checkpoint``, reports, lists, videos.
A write the machine refuses (no space, a quota, a read-only or forbidden
folder) leaves the same and raises a one-line
:class:`~tsm_plugin.errors.WriteError` naming the file, its size and the
space free.
"""

import glob
import json
import os
import os.path as osp
import uuid
from contextlib import contextmanager
from typing import List, Optional

from ..errors import WRITE_ERRNOS, WriteError
from . import disk_space

TMP_SUFFIX = '.tmp'


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
    """A file written to a temporary name, renamed over ``path`` when done.

    Data goes to ``.<name>.<random>.tmp`` in the destination folder; on a
    clean close it is flushed, fsynced and renamed over ``path``
    (``os.replace`` is atomic on POSIX and Windows). On an exception the
    temporary file is removed and ``path`` is untouched. A process killed
    before the rename leaves ``path`` as it was (plus the temporary file,
    which :func:`remove_stale_temporaries` clears).

    A refused write (``errno`` in :data:`~tsm_plugin.errors.WRITE_ERRNOS`:
    no space, quota, permission, read-only) at any step, the block's
    writes included, removes the temporary file and raises
    :class:`~tsm_plugin.errors.WriteError` instead.

    Args:
        path (str): Final file name.
        mode (str): ``'wb'`` or ``'w'``.
        encoding (str, optional): Text encoding for ``'w'``.
        size (int, optional): Bytes the file will take, if known (named in
            a :class:`~tsm_plugin.errors.WriteError`; else the bytes
            written so far).
    """

    def __init__(
        self,
        path,
        mode: str = 'wb',
        encoding: Optional[str] = None,
        size: Optional[int] = None,
    ):
        if mode not in ('w', 'wb', 'wt'):
            raise ValueError(f'AtomicFile writes only, got mode {mode!r}')
        self.path = osp.abspath(os.fspath(path))
        self.size, self.offered = size, 0
        self._file, self._done = None, False
        folder = osp.dirname(self.path)
        self.tmp_path = osp.join(
            folder,
            f'.{osp.basename(self.path)}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}',
        )
        with self._refusals():
            os.makedirs(folder, exist_ok=True)
            # os.open with 0o666 keeps the usual umask permissions (mkstemp
            # would make checkpoints readable by their owner only).
            fd = os.open(
                self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666
            )
            self._file = os.fdopen(
                fd, mode, encoding=None if 'b' in mode else encoding or 'utf-8'
            )

    def write(self, data):
        self.offered += len(data)
        return self._file.write(data)

    def _refused(self, err: BaseException) -> Optional[WriteError]:
        """``err`` as a WriteError if it is a refused write, else None."""
        if isinstance(err, WriteError) or not isinstance(err, OSError):
            return None
        if err.errno not in WRITE_ERRNOS:
            return None
        needed = self.size if self.size is not None else self.offered
        return disk_space.write_error(err, self.path, needed or None)

    @contextmanager
    def _refusals(self):
        """Discard, then raise a refused write as a WriteError."""
        try:
            yield
        except BaseException as err:
            self.discard()
            refused = self._refused(err)
            if refused is None:
                raise
            raise refused from err

    def commit(self) -> None:
        """Flush, fsync and rename over the final name."""
        if self._done:
            return
        with self._refusals():
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.tmp_path, self.path)
            self._done = True
        _fsync_dir(osp.dirname(self.path))

    def discard(self) -> None:
        """Drop the temporary file; the final name is left untouched."""
        if self._done:
            return
        self._done = True
        if self._file is not None:
            try:
                self._file.close()
            except OSError:  # its buffer could not be written: dropped
                pass
        try:
            os.remove(self.tmp_path)
        except OSError:  # never made; else remove_stale_temporaries' job
            pass

    close = commit

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
            return False
        self.discard()
        refused = self._refused(exc)
        if refused is not None:
            raise refused from exc
        return False


def atomic_write(path, data, encoding: str = 'utf-8') -> None:
    """Write ``bytes`` or ``str`` to ``path`` atomically (see AtomicFile)."""
    binary = isinstance(data, (bytes, bytearray, memoryview))
    size = memoryview(data).nbytes if binary else len(data.encode(encoding))
    with AtomicFile(path, 'wb' if binary else 'w', encoding, size) as f:
        f.write(data)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON (plus a newline), atomically."""
    atomic_write(path, json.dumps(obj, indent=2) + '\n')


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete temporaries that a killed write left in ``folder``."""
    removed = []
    for path in glob.glob(osp.join(glob.escape(folder), f'.*{TMP_SUFFIX}')):
        try:
            os.remove(path)
            removed.append(path)
        except OSError:  # another rank got there first
            pass
    return removed
