"""A per-clip decode deadline that holds when the decoder never returns.

A dataloader worker stuck in native decoding code (decord issue #373: a
container that over-reports its frame count loops forever holding the GIL)
would stall training, silently, until the job's time limit. Each dataset of
:class:`~tsm_plugin.datasets.bad_videos.BadVideoPolicy` has a
``decode_deadline`` (seconds per sample) and records in shared memory which
sample each worker decodes and since when
(:class:`~tsm_plugin.utils.worker_state.DecodeClock`). Code in the stuck
worker cannot be relied on, so the training process watches:

1. a watchdog thread (:class:`GuardedIter`, one per pass over the data)
   reads the clock; a decode past the deadline makes the video unusable:
   with ``on_bad_video='skip'`` it is marked bad (never opened again) and
   logged once, as an unreadable video is;
2. it wakes the training process if that is waiting for data, by putting
   the error in the dataloader's result queue as the worker would have;
3. the training process, at a known point (inside ``next()``, between
   batches), unregisters the workers from torch's SIGCHLD check, kills the
   stuck worker, shuts the others down and starts new workers at the same
   position of the epoch
   (:meth:`~tsm_plugin.engine.samplers.ResumableSampler.skip`; another
   sampler replays the epoch's batches and drops those already given).
   The batches that follow are those an unreadable video gives: the video
   is replaced by the next usable sample, with the same seed. With
   ``'raise'`` (evaluation) it stops with one line naming the file and the
   deadline (:class:`~tsm_plugin.datasets.bad_videos.DecodeDeadlineError`).

Why not the alternatives: ``SIGALRM`` in the worker (what the preflight
check uses) needs the interpreter to run its handler, which a decoder
holding the GIL never lets happen; ``faulthandler.dump_traceback_later(
exit=True)`` ends a stuck worker from a C thread, but the training process
then learns of it through torch's SIGCHLD handler, which raises "DataLoader
worker exited unexpectedly" at whatever line it is running (mid-step), and
still has to find out which video it was. A thread of the training process
needs nothing from the stuck worker and acts where training can resume
exactly.

:func:`guard_loader` turns this on for a built ``DataLoader`` with workers
and a dataset with a deadline; :class:`~tsm_plugin.engine.loops.
ResumableEpochBasedTrainLoop` guards its loader and
:class:`~tsm_plugin.engine.hooks.SkippedVideosHook` the validation and test
loaders. Samples replaced in batches prefetched before a restart may be
counted twice by the skip count. Without workers the deadline is a
``SIGALRM`` in the training process
(:func:`~tsm_plugin.utils.worker_state.main_process_alarm`).
"""

import threading
import weakref
from typing import List

from mmengine.logging import print_log
from torch.utils.data import DataLoader
from torch.utils.data._utils import ExceptionWrapper, signal_handling

from ..utils.config import iter_built_datasets
from .samplers import loader_sampler


def deadline_datasets(loader) -> List:
    """The datasets of ``loader`` that have a decode deadline."""
    return [
        ds
        for ds in iter_built_datasets(loader.dataset)
        if getattr(ds, 'decode_deadline', None)
        and hasattr(ds, 'overdue_decodes')
    ]


def _watch(ref, stop: threading.Event, poll: float) -> None:
    """Thread body: check the guarded pass every ``poll`` seconds."""
    while not stop.wait(poll):
        guard = ref()
        if guard is None:
            return
        try:
            guard.check()
        except Exception as err:  # noqa: BLE001 - a watchdog must not die
            print_log(f'decode watchdog: {err!r}', logger='current', level=30)
        del guard


class GuardedIter:
    """One pass over a guarded loader: torch's iterator, restarted when a
    worker's decode runs past the deadline (see the module docstring).

    Args:
        loader (DataLoader): The loader, with workers.
        datasets (list): Its datasets that have a deadline.
    """

    def __init__(self, loader: DataLoader, datasets: List):
        self.loader, self.datasets = loader, datasets
        self.sampler = loader_sampler(loader)
        self.skipped = getattr(self.sampler, 'pending_skip', 0)
        self.batches = 0  # batches given in this pass
        self.drop = 0  # batches to drop after a restart (no sampler skip)
        self.timeouts = []  # (worker id, dataset, error)
        self._lock = threading.Lock()
        self._start()
        self._stop = threading.Event()
        deadline = min(ds.decode_deadline for ds in datasets)
        threading.Thread(
            target=_watch,
            args=(weakref.ref(self), self._stop, min(1.0, deadline / 8)),
            name='decode-watchdog',
            daemon=True,
        ).start()

    def _start(self) -> None:
        for ds in self.datasets:
            ds.forget_decodes()
        self.it = DataLoader.__iter__(self.loader)

    def check(self) -> None:
        """Watchdog thread: find decodes past the deadline; wake the
        training process."""
        with self._lock:
            if self.timeouts:  # one restart at a time
                return
            found = [
                (worker, ds, ds.decode_timed_out(idx))
                for ds in self.datasets
                for worker, idx in ds.overdue_decodes()
            ]
            if not found:
                return
            self.timeouts = found
            it, err = self.it, found[0][2]
        queue = getattr(it, '_data_queue', None)
        if queue is not None:  # what the worker would have sent
            wrapped = ExceptionWrapper(
                (type(err), err, None), where='in the decode watchdog'
            )
            queue.put((it._rcvd_idx, wrapped))

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if self.timeouts:
                self._restart()
            try:
                batch = next(self.it)
            except StopIteration:
                self.close()
                raise
            except Exception:
                if not self.timeouts:
                    raise
                continue  # the watchdog's wake-up: restart
            if self.drop:
                self.drop -= 1
                continue
            self.batches += 1
            return batch

    def _stop_workers(self, stuck) -> None:
        """Kill the stuck workers, shut the others down, forget them."""
        it = self.it
        if getattr(it, '_worker_pids_set', False):
            # Else torch's SIGCHLD handler raises on the kill, anywhere.
            signal_handling._remove_worker_pids(id(it))
            it._worker_pids_set = False
        for worker in stuck:
            if worker >= len(it._workers):
                continue  # another loader's worker (its own watchdog's)
            process = it._workers[worker]
            if process.is_alive():
                process.kill()
            process.join(timeout=10)
        it._shutdown_workers()
        if getattr(self.loader, '_iterator', None) is it:
            self.loader._iterator = None  # persistent workers: new ones

    def _restart(self) -> None:
        with self._lock:
            timeouts = list(self.timeouts)
        self._stop_workers({worker for worker, _, _ in timeouts})
        for _, ds, err in timeouts:
            if ds.on_bad_video != 'skip':
                self.close()
                raise type(err)(str(err)) from None
        size = self.loader.batch_size
        at = self.batches + 1
        print_log(
            f'decode deadline: restarting the dataloader workers at batch '
            f'{at} of this pass',
            logger='current',
        )
        if hasattr(self.sampler, 'skip') and size:
            self.sampler.skip(self.skipped + self.batches * size)
        else:
            self.drop = self.batches
        with self._lock:
            self._start()
            self.timeouts = []

    def close(self) -> None:
        """Stop the watchdog (the workers stay as torch leaves them)."""
        self._stop.set()

    def __del__(self):
        stop = getattr(self, '_stop', None)
        if stop is not None:
            stop.set()


class GuardedDataLoader(DataLoader):
    """A ``DataLoader`` whose passes are :class:`GuardedIter`."""

    def __iter__(self):
        datasets = deadline_datasets(self)
        if not self.num_workers or not datasets:
            return super().__iter__()
        return GuardedIter(self, datasets)


def guard_loader(loader) -> bool:
    """Enforce the decode deadline of ``loader``'s datasets from the
    training process; whether it is guarded (a torch ``DataLoader`` with
    workers and a dataset with a deadline). Idempotent."""
    if not isinstance(loader, DataLoader) or not loader.num_workers:
        return False
    if not deadline_datasets(loader):
        return False
    if type(loader) is DataLoader:
        loader.__class__ = GuardedDataLoader  # same object, same state
    return isinstance(loader, GuardedDataLoader)
