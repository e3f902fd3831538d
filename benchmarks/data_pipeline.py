"""``data`` mode: clips/s of our training pipeline against mmaction2's.

Decode, sample 16 frames, augment, ``16x3x224x224``, on SSv2-sized videos
(``--videos k400``: Kinetics-400-sized H.264 ``.mp4``, in the SSv2 layout):
the recipe's ``train_pipeline`` (our ``SSv2Dataset``) against mmaction2's
stock sthv2 video pipeline (its ``VideoDataset``) over the same videos, in
one process (round robin, medians) and through a DataLoader with N workers;
plus the decode floor, each side's pipeline up to its decoder.

With ``--format F`` it times our pipeline on a prepared copy of the videos
against the same pipeline on the source videos instead
(:mod:`benchmarks.data_format`).
"""

import argparse
import os
import os.path as osp
import statistics
from typing import Dict

from mmaction.registry import DATASETS

from tsm_plugin.datasets.ssv2 import SSv2Dataset
from tsm_plugin.utils.config import type_name

from ._args import (
    add_format,
    add_json,
    add_timing,
    add_video_set,
    add_videos,
    non_negative,
    positive,
)
from ._data import (
    VIDEO_DIR,
    loader_rate,
    ours_dataset,
    report_head,
    timed_sides,
)
from ._stock import decode_prefix, stock_train_pipeline
from ._timing import log, ratio
from ._videos import DEFAULT_CACHE, data_setup, video_set
from .data_format import bench_format, format_prepared

DEFAULT_CONFIG = 'configs/tsm_r50_16f_ssv2.py'


def stock_list_file(
    root: str, split: str, out_dir: str, suffix: str = '.webm'
) -> str:
    """An mmaction2 ``VideoDataset`` list (``path label`` lines) of a split.

    mmaction2 reads SSv2 only through such a list (its
    ``tools/data/sthv2`` scripts write it); ours reads the JSON directly.
    """
    ds = SSv2Dataset(
        ann_file=f'labels/{split}.json',
        label_file='labels/labels.json',
        pipeline=[],
        data_root=root,
        data_prefix=dict(video=VIDEO_DIR),
        test_mode=True,
        suffix=suffix,
    )
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, f'stock_{split}_list.txt')
    with open(path, 'w') as f:
        for i in range(len(ds)):
            item = ds.get_data_info(i)
            f.write(f'{osp.basename(item["filename"])} {item["label"]}\n')
    return path


def _datasets(
    cfg, root: str, pipelines: Dict[str, list], stock_list: str, suffix: str
) -> Dict[str, object]:
    """Our SSv2Dataset (recipe's dataset config) and mmaction2's
    VideoDataset over the same videos, one per named pipeline."""
    out = {}
    for name, pipeline in pipelines.items():
        if name.startswith('ours'):
            out[name] = ours_dataset(cfg, root, pipeline, suffix)
        else:
            out[name] = DATASETS.build(
                dict(
                    type='VideoDataset',
                    ann_file=stock_list,
                    data_prefix=dict(video=osp.join(root, VIDEO_DIR)),
                    pipeline=pipeline,
                )
            )
    return out


def bench_data(args: argparse.Namespace) -> dict:
    """The ``data`` mode; returns the report."""
    if getattr(args, 'storage_format', None):
        return bench_format(args)
    cfg, root = data_setup(args)
    vs = video_set(args)
    stock_list = stock_list_file(root, 'train', args.cache, vs.suffix)
    ours_pipeline = list(cfg.train_dataloader.dataset.pipeline)
    stock_pipeline = stock_train_pipeline()
    pipelines = {
        'ours': ours_pipeline,
        'mmaction2': stock_pipeline,
        'ours_decode': decode_prefix(ours_pipeline),
        'mmaction2_decode': decode_prefix(stock_pipeline),
    }
    datasets = _datasets(cfg, root, pipelines, stock_list, vs.suffix)
    n = len(datasets['ours'])
    log(
        f'data: {n} {vs.about} from {root}; ours = {args.config} '
        'train_pipeline'
    )
    sides = timed_sides(datasets, args)
    workers = args.workers
    rates = {'ours': [], 'mmaction2': []}
    if workers > 0:
        for _ in range(args.rounds):
            for name in rates:
                rates[name].append(
                    loader_rate(datasets[name], workers, args.batch)
                )
    report = dict(
        report_head(args, n),
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
        f'{report["videos"]} {report["video_set"]["suffix"]} videos '
        f'({report["device_name"]})',
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
    add_video_set(p)
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
