"""``data --format F``: our training pipeline on a prepared copy of the
videos against the same pipeline on the source videos (``.webm``, or
``.mp4`` with ``--videos k400``).

The copy is ``tools/prepare_data.py``'s format F, written once under
``--cache``. Reported: ``speedup_per_core`` (clips/s in one process,
interleaved: the prepared side's over the source's), ``decode_speedup``
(the same for each pipeline cut after its decoder), ``speedup_workers``
(with ``--workers N``: the median clips/s of loader passes) and the storage
ratio of the copy. Each speedup is the ratio of the two ``clips_per_s`` the
report holds, to 3 decimals (:func:`benchmarks._timing.ratio`).
"""

import argparse
import os
import os.path as osp

from tsm_plugin.apis.prepare_data import prepare, resolve_format
from tsm_plugin.errors import InputError
from tsm_plugin.utils.config import type_name

from ._data import median_rate, ours_dataset, report_head, timed_sides
from ._stock import decode_prefix
from ._timing import log, ratio
from ._videos import data_setup, video_set


def prepared_copy(root: str, fmt: str, cache: str) -> dict:
    """``root`` prepared as ``fmt`` under ``cache`` (resumed if there).

    Returns:
        dict: :func:`tsm_plugin.apis.prepare_data.prepare`'s summary.

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
    """``data --format F``: our pipeline on F against on the sources."""
    cfg, root = data_setup(args)
    suffix = video_set(args).suffix
    fmt = resolve_format(args.storage_format)
    prep = prepared_copy(root, fmt, args.cache)
    pipeline = list(cfg.train_dataloader.dataset.pipeline)
    floor = decode_prefix(pipeline)
    datasets = {
        'source': ours_dataset(cfg, root, pipeline, suffix),
        'prepared': ours_dataset(cfg, prep['dst'], pipeline, suffix),
        'source_decode': ours_dataset(cfg, root, floor, suffix),
        'prepared_decode': ours_dataset(cfg, prep['dst'], floor, suffix),
    }
    n = len(datasets['source'])
    log(
        f'data --format {fmt}: {n} {suffix} videos from {root} against '
        f'their copy in {prep["dst"]}; pipeline = {args.config} '
        'train_pipeline'
    )
    sides = timed_sides(datasets, args)
    report = dict(
        report_head(args, n, format=fmt),
        pipeline=[type_name(t) for t in pipeline],
        source=dict(sides['source'], root=root, suffix=suffix),
        prepared=dict(sides['prepared'], root=prep['dst']),
        decode_floor=dict(
            source=sides['source_decode'],
            prepared=sides['prepared_decode'],
            pipeline=[type_name(t) for t in floor],
        ),
        speedup_per_core=ratio(
            sides['prepared'], sides['source'], 'clips_per_s'
        ),
        decode_speedup=ratio(
            sides['prepared_decode'], sides['source_decode'], 'clips_per_s'
        ),
        source_bytes=prep['source_bytes'],
        prepared_bytes=prep['prepared_bytes'],
        storage_ratio=prep['storage_ratio'],
    )
    if args.workers > 0:
        key = f'clips_per_s_{args.workers}_workers'
        for name in ('source', 'prepared'):
            report[name][key] = median_rate(datasets[name], args)
        report['speedup_workers'] = ratio(
            report['prepared'], report['source'], key
        )
    return report


def format_prepared(report: dict) -> str:
    """``data --format``'s report as the lines the CLI prints."""
    o, p = report['source'], report['prepared']
    fo = report['decode_floor']['source']
    fp = report['decode_floor']['prepared']
    w, fmt, src = report['workers'], report['format'], o['suffix']
    lines = [
        f'data --format {fmt}: training pipeline, {report["videos"]} '
        f'videos ({report["device_name"]})',
        f'  {src:7s}: {o["clips_per_s"]:7.2f} clips/s in one process '
        f'({o["ms_per_clip"]:.1f} ms/clip, decode {fo["ms_per_clip"]:.1f})',
        f'  {fmt:7s}: {p["clips_per_s"]:7.2f} clips/s in one process '
        f'({p["ms_per_clip"]:.1f} ms/clip, decode {fp["ms_per_clip"]:.1f})',
        f'  speedup per core {report["speedup_per_core"]:.2f}x (decoding '
        f'alone {report["decode_speedup"]:.2f}x); storage '
        f'{report["storage_ratio"]:.2f}x the {src} '
        f'({report["prepared_bytes"] / 2**20:.1f} MiB vs '
        f'{report["source_bytes"] / 2**20:.1f} MiB)',
    ]
    if w > 0:
        lines.append(
            f'  with {w} loader workers: {src} '
            f'{o[f"clips_per_s_{w}_workers"]:.2f} clips/s, {fmt} '
            f'{p[f"clips_per_s_{w}_workers"]:.2f} clips/s, speedup '
            f'{report["speedup_workers"]:.2f}x'
        )
    return '\n'.join(lines)
