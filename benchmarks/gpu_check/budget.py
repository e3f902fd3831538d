"""The time budget: what each section needs at least, and the alarm that
stops the running section when the budget is spent."""

import contextlib
import signal

#: Seconds a section needs at least (full run); with less left it is
#: skipped. In the order the sections run.
MIN_SECONDS = dict(
    environment=0,
    step=60,
    videos=20,
    train=40,
    loader_webm=15,
    fp16_step=30,
    prepare=20,
    loader_prepared=15,
    ffn_step=30,
)


class BudgetExceeded(BaseException):
    """The check's time budget ran out inside a section (a BaseException,
    as KeyboardInterrupt: no ``except Exception`` in the code it interrupts,
    a dataset's bad-video handler say, takes it for an error of its own)."""


class NotAvailable(Exception):
    """A tool the section needs is not in this checkout."""


@contextlib.contextmanager
def alarm(seconds: float):
    """Raise :class:`BudgetExceeded` in the main thread after ``seconds``."""

    def expire(signum, frame):
        raise BudgetExceeded(f'time budget spent after {seconds:.0f} s')

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
