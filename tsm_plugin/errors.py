"""Errors a user can cause and fix, and the exit statuses of the tools.

An :class:`InputError` is raised where the input enters, with one line naming
the offending file or value. The command-line tools print that line alone
(no traceback) and exit with :attr:`ExitStatus.INPUT`; a
:class:`WriteError` (a full disk, a quota, a read-only or forbidden folder)
likewise, with :attr:`ExitStatus.WRITE`; anything else is a bug and keeps its
traceback.
"""

import enum
import errno as _errno
import os.path as osp
from typing import Optional

# torch's DataLoader re-raises a worker's exception as
# ``type(err)(f'Caught {name} in DataLoader worker process N.\nOriginal
# Traceback ...\n<module.Class>: <message>')``.
_WORKER_WRAPPER = 'Original Traceback (most recent call last):'


class ExitStatus(enum.IntEnum):
    """Exit statuses of ``tools/*.py`` (docs/reliability.md's table)."""

    OK = 0
    ERROR = 1  # a failure that is not the user's input (NaN loss, a bug)
    INPUT = 2  # bad input: one line naming the file or value
    PREEMPTED = 3  # a checkpoint was saved; rerun with --resume
    # A write failed for lack of space, quota or permission; the line names
    # the last complete checkpoint (--resume continues from it).
    WRITE = 4


class InputError(Exception):
    """Bad user input; the message names the file or value at fault.

    The message stays one line when the error crosses a dataloader worker:
    torch's multi-line wrapper is reduced to the original message.
    """

    def __init__(self, message: object = '') -> None:
        text = str(message)
        if _WORKER_WRAPPER in text:
            last = text.rstrip().splitlines()[-1]
            name = f'{type(self).__name__}: '
            text = last.split(name, 1)[1] if name in last else last
        super().__init__(text)


class ConfigValueError(InputError, ValueError):
    """A value in a config or on a command line that cannot work.

    Also a ``ValueError``, so code that validates arguments the Python way
    keeps catching it.
    """


#: The errnos of a write the machine refused (space, quota, permission,
#: a read-only or size-limited filesystem): fixed by the user, not a bug.
WRITE_ERRNOS = frozenset(
    code
    for code in (
        _errno.ENOSPC,
        getattr(_errno, 'EDQUOT', None),  # not on Windows
        _errno.EACCES,
        _errno.EPERM,
        _errno.EROFS,
        _errno.EFBIG,
    )
    if code is not None
)


def format_size(num_bytes: int) -> str:
    """``num_bytes`` for people: ``'89.2 MiB'``, ``'512 bytes'``."""
    if num_bytes < 1024:
        return f'{num_bytes} bytes'
    value = float(num_bytes)
    for unit in ('KiB', 'MiB', 'GiB', 'TiB'):
        value /= 1024
        if value < 1024:
            break
    return f'{value:.1f} {unit}'


def _bytes(num_bytes: int) -> str:
    exact = f'{num_bytes:,} bytes'
    return exact if num_bytes < 1024 else f'{exact} = {format_size(num_bytes)}'


class WriteError(OSError):
    """A file could not be written: no space, a quota, no permission.

    One line naming the file, the bytes it needed and the bytes free in its
    folder, and, during training, the last complete checkpoint (what
    ``last_checkpoint`` names; ``--resume`` continues from it). An
    ``OSError`` (with the original ``errno``), so handlers that catch
    ``OSError`` around a write keep doing so.

    Args:
        errno (int): The failed call's ``errno``.
        strerror (str): Its message (``'No space left on device'``).
        filename (str, optional): The file being written, if known.
        needed (int, optional): Its size in bytes, where known.
        free (int, optional): Bytes free in its folder after the failure
            (the partial file removed).
        last_checkpoint (str, optional): ``''`` if training had saved none
            yet; None outside training (not mentioned).
    """

    def __init__(
        self,
        errno: int,
        strerror: str,
        filename: Optional[str],
        needed: Optional[int] = None,
        free: Optional[int] = None,
        last_checkpoint: Optional[str] = None,
    ) -> None:
        super().__init__(errno, strerror, filename)
        self.needed = needed
        self.free = free
        self.last_checkpoint = last_checkpoint

    def __str__(self) -> str:
        sizes = []
        if self.needed is not None:
            sizes.append(f'needs {_bytes(self.needed)}')
        if self.free is not None and self.filename:
            folder = osp.dirname(str(self.filename)) or '.'
            sizes.append(f'{_bytes(self.free)} free in {folder}')
        what = f'writing {self.filename}' if self.filename else 'a write'
        text = f'{what} failed: {self.strerror}'
        if sizes:
            text += f' ({"; ".join(sizes)})'
        if self.last_checkpoint:
            text += (
                f'; the last complete checkpoint is {self.last_checkpoint} '
                '(named by last_checkpoint): free some space, then rerun '
                'with --resume to continue from it'
            )
        elif self.last_checkpoint is not None:
            text += '; no checkpoint of this run was saved yet'
        return text
