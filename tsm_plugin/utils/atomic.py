"""Files that appear under their name only once completely written.

A kill at any moment leaves either the old file or the complete new one,
never a part: checkpoints, ``last_checkpoint``, reports, lists, videos.
"""

import glob
import json
import os
import os.path as osp
import uuid
from typing import List, Optional

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
            folder,
            f'.{osp.basename(self.path)}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}',
        )
        # os.open with 0o666 keeps the usual umask permissions (mkstemp
        # would make checkpoints readable by their owner only).
        fd = os.open(
            self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666
        )
        self._file = os.fdopen(
            fd, mode, encoding=None if 'b' in mode else encoding or 'utf-8'
        )
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


def atomic_write(path, data, encoding: str = 'utf-8') -> None:
    """Write ``bytes`` or ``str`` to ``path`` atomically (see AtomicFile)."""
    mode = 'wb' if isinstance(data, (bytes, bytearray, memoryview)) else 'w'
    with AtomicFile(path, mode, encoding) as f:
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
