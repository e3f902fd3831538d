"""State the dataloader workers share with the training process.

Lock-free shared memory (``RawArray``), so it crosses fork and spawn alike;
each process writes its own slot (0: the main process, 1 + worker id: a
worker). Pickled anywhere but at a worker's start (``copy.deepcopy``), an
object makes a private copy instead of failing.

* :class:`VideoMarks`: which videos are unusable, and how many samples were
  replaced (:class:`~tsm_plugin.datasets.bad_videos.BadVideoPolicy`);
* :class:`DecodeClock`: which sample each worker decodes, and since when.
  A worker stuck in native decoding code (decord issue #373: a container
  that over-reports its frame count makes the decoder loop forever,
  holding the GIL) cannot notice it is stuck: no Python code runs in it
  again, not even a signal handler. The clock is what another process
  reads instead: each worker writes the index it starts decoding and the
  time (``time.monotonic``, one clock for all processes of a machine) and
  clears it when done; the training process's watchdog
  (:mod:`tsm_plugin.engine.decode_watchdog`) compares it with the deadline.

Without workers (``num_workers=0``) the decode runs in the training process
itself, and :func:`main_process_alarm` bounds it with ``SIGALRM``: that cuts
a decode that returns to the interpreter (a sleep, a Python loop), not
native code holding the GIL; the deadline needs workers for full
protection.
"""

import multiprocessing as mp
import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable, List, Tuple

import torch

IDLE = -1
_NOTED = False  # the limits of main_process_alarm logged in this process
SLOTS = 64


def worker_slot(slots: int = SLOTS) -> int:
    """This process's slot: 0 for the main process, 1 + worker id."""
    info = torch.utils.data.get_worker_info()
    return 0 if info is None else 1 + info.id % slots


class _Shared:
    """Shared with a worker at its start; a private copy otherwise."""

    def _copy_args(self) -> tuple:
        """Arguments that build a private copy."""
        raise NotImplementedError

    def __getstate__(self):
        from multiprocessing.context import get_spawning_popen

        if get_spawning_popen() is not None:  # a worker starting: share
            return self.__dict__
        return dict(copy=self._copy_args())

    def __setstate__(self, state):
        if 'copy' in state:
            state = type(self)(*state['copy']).__dict__
        self.__dict__.update(state)


class VideoMarks(_Shared):
    """Bad-file marks and skip counts of one dataset.

    The skip counts are summed and reset between epochs, when the workers
    are idle. Two workers meeting the same new bad file at the same instant
    may both log it; nothing else races.

    Args:
        size (int): Samples in the dataset.
    """

    def __init__(self, size: int, bad=None, skips=None):
        self.bad = mp.RawArray('b', bad if bad is not None else max(size, 1))
        self.skips = mp.RawArray(
            'q', skips if skips is not None else SLOTS + 1
        )
        self.clock = DecodeClock()

    def _copy_args(self):
        return 0, list(self.bad), list(self.skips)

    def mark_bad(self, idx: int) -> bool:
        """Mark ``idx`` bad; whether it was not marked before."""
        first = not self.bad[idx]
        self.bad[idx] = 1
        return first

    def count_skip(self) -> None:
        self.skips[worker_slot()] += 1

    def pop_skips(self) -> int:
        count = sum(self.skips)
        for i in range(len(self.skips)):
            self.skips[i] = 0
        return count


class DecodeClock(_Shared):
    """Per-process ``(index, start time)`` of the decode in progress.

    The start time is written before the index, so a reader that sees an
    index sees its start time. A private copy starts idle.

    Args:
        slots (int): Worker slots (worker ``i`` writes slot ``1 + i %
            slots``; slot 0 is the main process).
    """

    def __init__(self, slots: int = SLOTS):
        self.slots = slots
        self.index = mp.RawArray('q', [IDLE] * (slots + 1))
        self.since = mp.RawArray('d', slots + 1)

    def start(self, index: int) -> None:
        """This process starts decoding sample ``index``."""
        slot = worker_slot(self.slots)
        self.since[slot] = time.monotonic()
        self.index[slot] = int(index)

    def stop(self) -> None:
        """This process is done with its decode (whatever its outcome)."""
        self.index[worker_slot(self.slots)] = IDLE

    def overdue(self, deadline: float) -> List[Tuple[int, int, float]]:
        """``(worker id, index, seconds)`` of the worker decodes running
        longer than ``deadline`` seconds."""
        now, late = time.monotonic(), []
        for slot in range(1, self.slots + 1):
            index = self.index[slot]
            if index == IDLE:
                continue
            took = now - self.since[slot]
            if took > deadline and self.index[slot] == index:
                late.append((slot - 1, index, took))
        return late

    def clear(self) -> None:
        """Forget every decode in progress (the workers are gone)."""
        for slot in range(self.slots + 1):
            self.index[slot] = IDLE

    def _copy_args(self):
        return (self.slots,)


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that no reader's
    ``except Exception`` turns it into another error."""


@contextmanager
def main_process_alarm(seconds: float, on_expiry: Callable[[], Exception]):
    """Raise ``on_expiry()`` if the block runs past ``seconds``.

    ``SIGALRM`` in the main thread of a POSIX process; elsewhere (another
    thread, Windows) or while another interval timer runs, the block runs
    unbounded. The handler runs only when the interpreter gets control back,
    so native code holding the GIL is not cut short.
    """
    global _NOTED
    usable = (
        seconds
        and hasattr(signal, 'SIGALRM')
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        yield
        return

    if not _NOTED:
        _NOTED = True
        from mmengine.logging import print_log

        print_log(
            f'decode deadline {seconds:g} s in the training process '
            '(num_workers=0): SIGALRM cuts a decode that returns to Python, '
            'not native code holding the GIL; use dataloader workers for '
            'full protection',
            logger='current',
        )
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise _Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            yield
        finally:
            armed[0] = False  # a late alarm past here is ignored
    except _Alarm:
        raise on_expiry() from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(
            signal.SIGALRM, signal.SIG_DFL if previous is None else previous
        )
