"""One function over many jobs: in worker processes or in this one, with
an optional progress bar (what ``prepare_ssv2`` and the synthetic set's
generator share)."""

from multiprocessing import get_all_start_methods, get_context
from typing import Callable, Iterable, Iterator, List, Optional, TypeVar

T = TypeVar('T')


def progress_bar(
    items: Iterable[T], total: int, desc: Optional[str], unit: str = 'video'
) -> Iterator[T]:
    """``items``, behind a progress bar labelled ``desc`` (tqdm's, else
    mmengine's); no bar where ``desc`` is None."""
    if desc is None:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:  # mmengine is always there
        from mmengine.utils import ProgressBar

        bar = ProgressBar(total)
        for item in items:
            bar.update()
            yield item
        return
    yield from tqdm(items, total=total, desc=desc, unit=unit)


def map_jobs(
    fn: Callable[[T], object],
    jobs: List[T],
    workers: int,
    progress: Optional[str] = None,
    ordered: bool = True,
) -> list:
    """``fn`` of each job, in ``workers`` processes where more than one
    (and more than one job), else in this process.

    The processes are forked where the platform can: they then need
    nothing imported again (spawned, each would re-import mmaction,
    seconds a worker). Each takes 4 jobs at a time.

    Args:
        fn (Callable): A module-level function (it is pickled to spawned
            workers).
        jobs (list): Its arguments, one a call.
        workers (int): Processes; 1 runs every job in this one.
        progress (str, optional): The progress bar's label; None: no bar.
        ordered (bool): The results in the jobs' order; False: as they
            finish (the bar then moves evenly).

    Returns:
        list: ``fn``'s results.
    """
    if workers > 1 and len(jobs) > 1:
        method = 'fork' if 'fork' in get_all_start_methods() else 'spawn'
        with get_context(method).Pool(workers) as pool:
            imap = pool.imap if ordered else pool.imap_unordered
            done = imap(fn, jobs, chunksize=4)
            return list(progress_bar(done, len(jobs), progress))
    return list(progress_bar(map(fn, jobs), len(jobs), progress))
