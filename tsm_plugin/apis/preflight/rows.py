"""The table's vocabulary: a check's status, its row, and a skip."""

import enum
from typing import NamedTuple


class Status(enum.Enum):
    """A check's outcome; only FAIL makes preflight exit 1."""

    PASS = 'PASS'
    FAIL = 'FAIL'
    WARN = 'WARN'
    SKIP = 'SKIP'


class Row(NamedTuple):
    """One line of the table."""

    check: str
    status: Status
    detail: str


class Skip(Exception):
    """A check cannot run: a prerequisite is missing (the message says
    which); reported as a SKIP row."""


def one_line(err: BaseException) -> str:
    """The last line of an error: the cause, where pools and DataLoader
    workers wrap it."""
    text = str(err).strip().splitlines()
    return (text[-1] if text else type(err).__name__)[:300]
