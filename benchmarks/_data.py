"""What the ``data`` mode and its ``--format`` variant share: our dataset
over a set, one sample per call, a DataLoader's clips/s (the GPU check's
loader sections too), a side's figures, the report's first fields."""

import copy
import statistics
import time
from typing import Callable, Dict, List

from mmaction.registry import DATASETS
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader, RandomSampler

from tsm_plugin.testing.synthetic_ssv2 import VIDEO_DIR

from ._timing import device_name, round_robin, summarize
from ._videos import video_set


def ours_dataset(cfg, root: str, pipeline: list, suffix: str = '.webm'):
    """Our SSv2Dataset (the recipe's dataset config) on the set ``root``,
    its videos ``<id><suffix>``."""
    ours_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ours_cfg.update(
        data_root=root,
        ann_file='labels/train.json',
        label_file='labels/labels.json',
        data_prefix=dict(video=VIDEO_DIR),
        suffix=suffix,
    )
    return DATASETS.build(dict(ours_cfg, pipeline=pipeline))


def cycle(dataset) -> Callable[[], None]:
    """A callable loading the next sample of ``dataset`` (wrapping)."""
    state = dict(i=0)

    def load():
        dataset[state['i'] % len(dataset)]
        state['i'] += 1

    return load


def loader_rate(dataset, workers: int, batch: int, seconds=None) -> float:
    """Clips/s a DataLoader serves from ``dataset``, its start-up untimed.

    Without ``seconds``: one pass over the set, after each worker's first
    batch. With ``seconds``: clips drawn with replacement for that long, so
    the rate does not depend on the set's size, after ``3 x workers``
    batches (each worker's start-up and the prefetched queue). The workers
    are shut down either way.
    """
    sampler = None
    if seconds is not None:
        sampler = RandomSampler(dataset, replacement=True, num_samples=10**8)
    loader = DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=pseudo_collate,
        shuffle=False,
    )
    it = iter(loader)
    try:
        for _ in range(max(1, workers) * (1 if seconds is None else 3)):
            next(it)
        start, clips = time.perf_counter(), 0
        if seconds is None:
            for data in it:
                clips += len(data['inputs'])
        while seconds is not None and time.perf_counter() - start < seconds:
            clips += len(next(it)['inputs'])
        return clips / (time.perf_counter() - start)
    finally:
        shutdown = getattr(it, '_shutdown_workers', None)
        if shutdown is not None:
            shutdown()


def median_rate(dataset, args) -> float:
    """Median clips/s of ``args.rounds`` loader passes over ``dataset``."""
    return round(
        statistics.median(
            loader_rate(dataset, args.workers, args.batch)
            for _ in range(args.rounds)
        ),
        3,
    )


def data_side(times: List[float]) -> dict:
    """One pipeline's figures from its per-clip load times (the median)."""
    s = summarize(times, 1, 'clips')
    return dict(
        ms_per_clip=s['median_ms'],
        clips_per_s=s['clips_per_s'],
        median_ms=s['median_ms'],
        times=s['times'],
    )


def timed_sides(datasets: Dict[str, object], args) -> Dict[str, dict]:
    """Each dataset's figures (:func:`data_side`) from loading its samples
    round robin with the others (``args.warmup``, then ``args.iters``
    loads each)."""
    times = round_robin(
        {k: cycle(d) for k, d in datasets.items()}, args.warmup, args.iters
    )
    return {name: data_side(ts) for name, ts in times.items()}


def report_head(args, videos: int, **first) -> dict:
    """The fields a data report starts with (``first`` after ``mode``)."""
    vs = video_set(args)
    return dict(
        mode='data',
        **first,
        device_name=device_name(),
        config=args.config,
        videos=videos,
        video_set=dict(vs.settings, suffix=vs.suffix),
        warmup=args.warmup,
        iters=args.iters,
        workers=args.workers,
    )
