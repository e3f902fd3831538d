"""Errors a user can cause and fix, and the exit statuses of the tools.

An :class:`InputError` is raised where the input enters, with one line naming
the offending file or value. The command-line tools print that line alone
(no traceback) and exit with :attr:`ExitStatus.INPUT`; anything else is a
bug and keeps its traceback.
"""

import enum

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
