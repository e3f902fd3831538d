"""Checks of a benchmark report's figures against its own fields."""

import statistics

from benchmarks._timing import ratio

#: Half a step of the rounding a report applies: times to 1e-5 s,
#: clips/s to 1e-3 (plus float slack).
HALF_TIME_STEP = 5e-6 + 1e-12
HALF_RATE_STEP = 5e-4 + 1e-12


def assert_rate_is_the_median(side: dict, iters: int) -> None:
    """``clips_per_s`` is 1 / the median of the side's ``iters`` recorded
    times, within the rounding the report applies to both (an odd count:
    the median of the rounded times is the rounded median)."""
    times = side['times']
    assert len(times) == iters and iters % 2 == 1 and min(times) > 0
    median = statistics.median(times)
    low = 1 / (median + HALF_TIME_STEP) - HALF_RATE_STEP
    high = 1 / (median - HALF_TIME_STEP) + HALF_RATE_STEP
    assert low <= side['clips_per_s'] <= high, (side, low, high)


def ratio_of(a: dict, b: dict, key: str = 'clips_per_s') -> float:
    """A speedup exactly as the benchmarks define it
    (:func:`benchmarks._timing.ratio`: ``a[key] / b[key]`` to 3 decimals),
    from the report's own fields, both positive."""
    assert a[key] > 0 < b[key], (a[key], b[key])
    return ratio(a, b, key)
