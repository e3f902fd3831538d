"""``data`` mode: clips/s of our training pipeline against mmaction2's.

Decode, sample 16 frames, augment, ``16x3x224x224``, on SSv2-sized videos:
the recipe's ``train_pipeline`` (our ``SSv2Dataset``) against mmaction2's
stock sthv2 video pipeline (its ``VideoDataset``) over the same videos, in
one process (round robin, medians) and through a DataLoader with N workers;
plus the decode floor, each side's pipeline up to its decoder.

With ``--format F`` it times our pipeline on a prepared copy of the videos
(``tools/prepare_ssv2.py``'s format F, written once under ``--cache``)
against the same pipeline on the ``.webm``: ``speedup_per_core`` (clips/s in
one process, interleaved) and the storage ratio of the copy.
"""

import argparse
import copy
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List

from mmaction.registry import DATASETS
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from tsm_plugin.apis.prepare_ssv2 import prepare, resolve_format
from tsm_plugin.datasets.ssv2 import SSv2Dataset
from tsm_plugin.errors import InputError
from tsm_plugin.utils.config import type_name

from ._args import (
    add_format,
    add_json,
    add_timing,
    add_videos,
    non_negative,
    positive,
)
from ._stock import decode_prefix, stock_train_pipeline
from ._timing import device_name, log, ratio, round_robin, summarize
from ._videos import BENCH_SET, DEFAULT_CACHE, data_setup

DEFAULT_CONFIG = 'configs/tsm_r50_16f_ssv2.py'


def stock_list_file(root: str, split: str, out_dir: str) -> str:
    """An mmaction2 ``VideoDataset`` list (``path label`` lines) of a split.

    mmaction2 reads SSv2 only through such a list (its
    ``tools/data/sthv2`` scripts write it); ours reads the JSON directly.
    """
    ds = SSv2Dataset(
        ann_file=f'labels/{split}.json',
        label_file='labels/labels.json',
        pipeline=[],
        data_root=root,
        data_prefix=dict(video='20bn-something-something-v2'),
        test_mode=True,
    )
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, f'stock_{split}_list.txt')
    with open(path, 'w') as f:
        for i in range(len(ds)):
            item = ds.get_data_info(i)
            f.write(f'{osp.basename(item["filename"])} {item["label"]}\n')
    return path


def _ours(cfg, root: str, pipeline: list):
    """Our SSv2Dataset (the recipe's dataset config) on the set ``root``."""
    ours_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ours_cfg.update(
        data_root=root,
        ann_file='labels/train.json',
        label_file='labels/labels.json',
        data_prefix=dict(video='20bn-something-something-v2'),
    )
    return DATASETS.build(dict(ours_cfg, pipeline=pipeline))


def _datasets(
    cfg, root: str, pipelines: Dict[str, list], stock_list: str
) -> Dict[str, object]:
    """Our SSv2Dataset (recipe's dataset config) and mmaction2's
    VideoDataset over the same videos, one per named pipeline."""
    out = {}
    for name, pipeline in pipelines.items():
        if name.startswith('ours'):
            out[name] = _ours(cfg, root, pipeline)
        else:
            out[name] = DATASETS.build(
                dict(
                    type='VideoDataset',
                    ann_file=stock_list,
                    data_prefix=dict(
                        video=osp.join(root, '20bn-something-something-v2')
                    ),
                    pipeline=pipeline,
                )
            )
    return out


def _cycle(dataset) -> Callable[[], None]:
    """A callable loading the next sample of ``dataset`` (wrapping)."""
    state = dict(i=0)

    def load():
        dataset[state['i'] % len(dataset)]
        state['i'] += 1

    return load


def _loader_rate(dataset, workers: int, batch: int) -> float:
    """Clips/s of a DataLoader pass, after each worker's first batch."""
    loader = DataLoader(
        dataset,
        batch_size=batch,
        num_workers=workers,
        collate_fn=pseudo_collate,
        shuffle=False,
    )
    it = iter(loader)
    for _ in range(max(1, workers)):  # start-up: every worker's first batch
        next(it)
    start, clips = time.perf_counter(), 0
    for data in it:
        clips += len(data['inputs'])
    return clips / (time.perf_counter() - start)


def data_side(times: List[float]) -> dict:
    """One pipeline's figures from its per-clip load times (the median)."""
    s = summarize(times, 1, 'clips')
    return dict(
        ms_per_clip=s['median_ms'],
        clips_per_s=s['clips_per_s'],
        median_ms=s['median_ms'],
        times=s['times'],
    )


def _median_rate(dataset, args) -> float:
    """Median clips/s of ``args.rounds`` loader passes over ``dataset``."""
    return round(
        statistics.median(
            _loader_rate(dataset, args.workers, args.batch)
            for _ in range(args.rounds)
        ),
        3,
    )


def prepared_copy(root: str, fmt: str, cache: str) -> dict:
    """``root`` prepared as ``fmt`` under ``cache`` (resumed if there).

    Returns:
        dict: :func:`tsm_plugin.apis.prepare_ssv2.prepare`'s summary.

    Raises:
        InputError: a video could not be converted.
    """
    name = osp.basename(osp.normpath(osp.abspath(root)))
    dst = osp.join(cache, 'prepared', f'{name}.{fmt}')
    summary = prepare(
        root,
        dst,
        fmt,
        workers=max(1, min(8, os.cpu_count() or 1)),
        progress=False,
    )
    if summary['failed']:
        raise InputError(
            f'{summary["failed"]} videos of {root} could not be prepared '
            f'(listed in {summary["failures_file"]})'
        )
    return summary


def bench_format(args: argparse.Namespace) -> dict:
    """``data --format F``: our pipeline on F against on the ``.webm``."""
    cfg, root = data_setup(args)
    fmt = resolve_format(args.storage_format)
    prep = prepared_copy(root, fmt, args.cache)
    pipeline = list(cfg.train_dataloader.dataset.pipeline)
    floor = decode_prefix(pipeline)
    datasets = {
        'webm': _ours(cfg, root, pipeline),
        'prepared': _ours(cfg, prep['dst'], pipeline),
        'webm_decode': _ours(cfg, root, floor),
        'prepared_decode': _ours(cfg, prep['dst'], floor),
    }
    n = len(datasets['webm'])
    log(
        f'data --format {fmt}: {n} videos from {root} against their copy '
        f'in {prep["dst"]}; pipeline = {args.config} train_pipeline'
    )
    times = round_robin(
        {k: _cycle(d) for k, d in datasets.items()}, args.warmup, args.iters
    )
    sides = {name: data_side(ts) for name, ts in times.items()}
    report = dict(
        mode='data',
        format=fmt,
        device_name=device_name(),
        config=args.config,
        videos=n,
        video_set=dict(BENCH_SET),
        warmup=args.warmup,
        iters=args.iters,
        workers=args.workers,
        pipeline=[type_name(t) for t in pipeline],
        webm=dict(sides['webm'], root=root),
        prepared=dict(sides['prepared'], root=prep['dst']),
        decode_floor=dict(
            webm=sides['webm_decode'],
            prepared=sides['prepared_decode'],
            pipeline=[type_name(t) for t in floor],
        ),
        speedup_per_core=ratio(
            sides['prepared'], sides['webm'], 'clips_per_s'
        ),
        decode_speedup=ratio(
            sides['prepared_decode'], sides['webm_decode'], 'clips_per_s'
        ),
        webm_bytes=prep['webm_bytes'],
        prepared_bytes=prep['prepared_bytes'],
        storage_ratio=prep['storage_ratio'],
    )
    if args.workers > 0:
        w = args.workers
        for name in ('webm', 'prepared'):
            report[name][f'clips_per_s_{w}_workers'] = _median_rate(
                datasets[name], args
            )
        report['speedup_workers'] = round(
            report['prepared'][f'clips_per_s_{w}_workers']
            / report['webm'][f'clips_per_s_{w}_workers'],
            3,
        )
    return report


def format_prepared(report: dict) -> str:
    """``data --format``'s report as the lines the CLI prints."""
    o, p = report['webm'], report['prepared']
    fo, fp = report['decode_floor']['webm'], report['decode_floor']['prepared']
    w, fmt = report['workers'], report['format']
    lines = [
        f'data --format {fmt}: training pipeline, {report["videos"]} '
        f'videos ({report["device_name"]})',
        f'  .webm   : {o["clips_per_s"]:7.2f} clips/s in one process '
        f'({o["ms_per_clip"]:.1f} ms/clip, decode {fo["ms_per_clip"]:.1f})',
        f'  {fmt:7s}: {p["clips_per_s"]:7.2f} clips/s in one process '
        f'({p["ms_per_clip"]:.1f} ms/clip, decode {fp["ms_per_clip"]:.1f})',
        f'  speedup per core {report["speedup_per_core"]:.2f}x (decoding '
        f'alone {report["decode_speedup"]:.2f}x); storage '
        f'{report["storage_ratio"]:.2f}x the .webm '
        f'({report["prepared_bytes"] / 2**20:.1f} MiB vs '
        f'{report["webm_bytes"] / 2**20:.1f} MiB)',
    ]
    if w > 0:
        lines.append(
            f'  with {w} loader workers: .webm '
            f'{o[f"clips_per_s_{w}_workers"]:.2f} clips/s, {fmt} '
            f'{p[f"clips_per_s_{w}_workers"]:.2f} clips/s, speedup '
            f'{report["speedup_workers"]:.2f}x'
        )
    return '\n'.join(lines)


def bench_data(args: argparse.Namespace) -> dict:
    """The ``data`` mode; returns the report."""
    if getattr(args, 'storage_format', None):
        return bench_format(args)
    cfg, root = data_setup(args)
    stock_list = stock_list_file(root, 'train', args.cache)
    ours_pipeline = list(cfg.train_dataloader.dataset.pipeline)
    stock_pipeline = stock_train_pipeline()
    pipelines = {
        'ours': ours_pipeline,
        'mmaction2': stock_pipeline,
        'ours_decode': decode_prefix(ours_pipeline),
        'mmaction2_decode': decode_prefix(stock_pipeline),
    }
    datasets = _datasets(cfg, root, pipelines, stock_list)
    n = len(datasets['ours'])
    log(
        f'data: {n} SSv2-sized videos (240p, 12 fps, 2-6 s, VP9) from '
        f'{root}; ours = {args.config} train_pipeline'
    )
    times = round_robin(
        {k: _cycle(d) for k, d in datasets.items()}, args.warmup, args.iters
    )
    sides = {name: data_side(ts) for name, ts in times.items()}
    workers = args.workers
    rates = {'ours': [], 'mmaction2': []}
    if workers > 0:
        for _ in range(args.rounds):
            for name in rates:
                rates[name].append(
                    _loader_rate(datasets[name], workers, args.batch)
                )
    report = dict(
        mode='data',
        device_name=device_name(),
        config=args.config,
        videos=n,
        video_set=dict(BENCH_SET),
        warmup=args.warmup,
        iters=args.iters,
        workers=workers,
        ours=dict(
            sides['ours'], pipeline=[type_name(t) for t in ours_pipeline]
        ),
        mmaction2=dict(
            sides['mmaction2'], pipeline=[type_name(t) for t in stock_pipeline]
        ),
        decode_floor={
            name: dict(
                sides[f'{name}_decode'],
                pipeline=[type_name(t) for t in pipelines[f'{name}_decode']],
            )
            for name in ('ours', 'mmaction2')
        },
        speedup=ratio(sides['ours'], sides['mmaction2'], 'clips_per_s'),
    )
    for name in ('ours', 'mmaction2'):
        report[name]['transforms_ms'] = round(
            sides[name]['ms_per_clip']
            - sides[f'{name}_decode']['ms_per_clip'],
            3,
        )
    if workers > 0:
        for name in rates:
            report[name][f'clips_per_s_{workers}_workers'] = round(
                statistics.median(rates[name]), 3
            )
        report['speedup_workers'] = round(
            statistics.median(rates['ours'])
            / statistics.median(rates['mmaction2']),
            3,
        )
    return report


def format_data(report: dict) -> str:
    """The report as the lines the CLI prints."""
    if 'format' in report:
        return format_prepared(report)
    o, s = report['ours'], report['mmaction2']
    fo, fs = (
        report['decode_floor']['ours'],
        report['decode_floor']['mmaction2'],
    )
    w = report['workers']
    lines = [
        f'data: training pipeline, 16 frames -> 16x3x224x224, '
        f'{report["videos"]} SSv2-sized videos ({report["device_name"]})',
        f'  ours     : {o["clips_per_s"]:7.2f} clips/s in one process '
        f'({o["ms_per_clip"]:.1f} ms/clip: decode {fo["ms_per_clip"]:.1f} + '
        f'transforms {o["transforms_ms"]:.1f})',
        f'  mmaction2: {s["clips_per_s"]:7.2f} clips/s in one process '
        f'({s["ms_per_clip"]:.1f} ms/clip: decode {fs["ms_per_clip"]:.1f} + '
        f'transforms {s["transforms_ms"]:.1f})',
        f'  speedup {report["speedup"]:.2f}x (one process)',
    ]
    if w > 0:
        lines.append(
            f'  with {w} loader workers: ours '
            f'{o[f"clips_per_s_{w}_workers"]:.2f} clips/s, mmaction2 '
            f'{s[f"clips_per_s_{w}_workers"]:.2f} clips/s, speedup '
            f'{report["speedup_workers"]:.2f}x'
        )
    lines.append(
        f'  decode floor (decoding alone): ours '
        f'{fo["clips_per_s"]:.2f} clips/s, mmaction2 '
        f'{fs["clips_per_s"]:.2f} clips/s'
    )
    return '\n'.join(lines)


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``data`` subcommand, its flags and defaults."""
    p = sub.add_parser('data', help='training pipeline clips/s, ours vs stock')
    add_json(p)
    # 4 x (4 + 60) loads of ~25 ms, then 2 x 2 loader passes over 60 videos.
    add_timing(p, warmup=4, iters=60)
    p.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='the recipe (its train_pipeline is ours)',
    )
    add_videos(p, DEFAULT_CACHE)
    p.add_argument(
        '--workers',
        type=non_negative,
        default=os.cpu_count() or 1,
        help='loader workers for the multi-process figure '
        '(default: CPU count; 0 skips it)',
    )
    p.add_argument(
        '--rounds',
        type=positive,
        default=2,
        help='loader passes per side (median)',
    )
    p.add_argument(
        '--batch', type=positive, default=4, help='clips per loader batch'
    )
    add_format(p)
    p.set_defaults(func=bench_data, format=format_data)
    return p
