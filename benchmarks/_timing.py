"""Timing shared by the modes: interleaved runs, medians, ratios, output."""

import logging
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log

from tsm_plugin.utils.atomic import write_json
from tsm_plugin.utils.device import cpu_name, describe_device, device_type_of

__all__ = [
    'device_name',
    'log',
    'ratio',
    'round_robin',
    'summarize',
    'sync_fn',
    'write_json',
]


def round_robin(
    fns: Dict[str, Callable[[], None]],
    warmup: int,
    iters: int,
    sync: Optional[Callable[[], None]] = None,
    label: Optional[str] = None,
) -> Dict[str, List[float]]:
    """Time each callable ``iters`` times, interleaved, after ``warmup``.

    Args:
        fns (dict): name -> a callable doing one unit of work.
        warmup (int): untimed calls of each first.
        iters (int): timed calls of each.
        sync (callable, optional): called before reading the clock (e.g.
            ``torch.cuda.synchronize``).
        label (str, optional): log progress after every round under it.

    Returns:
        dict: name -> the ``iters`` durations in seconds.
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    times = {name: [] for name in fns}
    for i in range(iters):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
        if label:
            log(
                f'{label}: round {i + 1}/{iters}: '
                + ', '.join(f'{name} {times[name][-1]:.3f} s' for name in fns)
            )
    return times


def summarize(times: Sequence[float], items: int, unit: str) -> dict:
    """The median time per call and the throughput it gives.

    Args:
        times (sequence): seconds per call.
        items (int): work items per call (clips, images).
        unit (str): their name, for the ``<unit>_per_s`` key.

    Returns:
        dict: ``seconds_per_step`` and ``median_ms`` (the median),
        ``<unit>_per_s`` (``items`` / the median) and the ``times``.
    """
    median = statistics.median(times)
    return {
        'seconds_per_step': round(median, 5),
        'median_ms': round(1000 * median, 3),
        f'{unit}_per_s': round(items / median, 3),
        'times': [round(t, 5) for t in times],
    }


def ratio(a: dict, b: dict, key: str) -> float:
    """``a[key] / b[key]`` to 3 decimals: ours over stock for throughputs,
    stock over ours for times (above 1, ours is faster)."""
    return round(a[key] / b[key], 3)


def sync_fn(device: str) -> Optional[Callable[[], None]]:
    """What waits for ``device``'s queued work (None on a CPU)."""
    kind = device_type_of(device)
    if kind == 'cuda':
        return torch.cuda.synchronize
    if kind == 'mps':
        return torch.mps.synchronize
    return None


def device_name(device: str = 'cpu') -> str:
    """The hardware a report was measured on: the GPU's name, or the CPU's
    model name and the threads torch uses."""
    kind = device_type_of(device)
    if kind == 'cuda':
        return torch.cuda.get_device_name(device)
    if kind == 'cpu':
        return f'{cpu_name()}, {torch.get_num_threads()} threads'
    return describe_device(device)


def log(msg: str) -> None:
    """Progress on mmengine's current logger."""
    print_log(msg, logger='current', level=logging.INFO)
