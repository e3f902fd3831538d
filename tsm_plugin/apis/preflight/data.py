"""The data checks: paths, annotations, videos.

Each takes the :class:`~.context.Context` and returns its table rows.
"""

import os
import os.path as osp
import random
import signal
import sys
import time
from typing import List, Optional

from mmengine.utils import track_parallel_progress

from ...datasets.bad_videos import check_video
from ...utils.atomic import atomic_write
from ...utils.config import iter_built_datasets, iter_datasets
from .context import Context
from .rows import Row, Skip, Status, one_line

#: Where the listed videos without a file go (in the work dir).
MISSING_LIST = 'preflight_missing_videos.txt'


def _resolve(root: Optional[str], path: str) -> str:
    return path if (not root or osp.isabs(path)) else osp.join(root, path)


def check_paths(ctx: Context) -> List[Row]:
    """Every path a dataset reads exists; the work dir is writable."""
    missing, checked = [], set()
    for ds in iter_datasets(ctx.cfg):
        root = ds.get('data_root')
        paths = [('data_root', root)] if root else []
        for key in ('ann_file', 'label_file', 'split_dir'):
            if ds.get(key):
                paths.append((key, _resolve(root, ds[key])))
        video = (ds.get('data_prefix') or {}).get('video')
        if video is not None:
            paths.append(('data_prefix.video', _resolve(root, video)))
        for key, path in paths:
            if path not in checked:
                checked.add(path)
                if not osp.exists(path):
                    missing.append(f'{key} {path}')
    try:
        os.makedirs(ctx.work_dir, exist_ok=True)
        probe = osp.join(ctx.work_dir, f'.preflight.{os.getpid()}')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        missing.append(f'work dir not writable: {ctx.work_dir} ({err})')
    if missing:
        return [Row('paths', Status.FAIL, 'missing: ' + '; '.join(missing))]
    return [
        Row(
            'paths',
            Status.PASS,
            f'{len(checked)} paths exist; work dir {ctx.work_dir} writable',
        )
    ]


def _label_row(name: str, ds, num_classes: Optional[int]) -> Row:
    """Whether one split's labels map onto ``num_classes`` classes."""
    classes = ds.metainfo.get('classes') or ()
    labels = [int(ds.get_data_info(i)['label']) for i in range(len(ds))]
    out_of_range = sorted(
        {lb for lb in labels if not -1 <= lb < (num_classes or 1e9)}
    )
    problems = []
    if num_classes is not None and classes and len(classes) != num_classes:
        problems.append(
            f'label file has {len(classes)} classes, '
            f'model.cls_head.num_classes = {num_classes}'
        )
    if out_of_range:
        problems.append(
            f'labels {out_of_range[:5]} outside [0, {num_classes})'
        )
    if not ds.test_mode and any(lb < 0 for lb in labels):
        problems.append('unlabelled items in a training split')
    if len(ds) == 0:
        problems.append('no items')
    ann = osp.basename(getattr(ds, 'ann_file', '') or '?')
    if problems:
        return Row(
            f'annotations ({name})',
            Status.FAIL,
            f'{ann}: ' + '; '.join(problems),
        )
    used = len({lb for lb in labels if lb >= 0})
    return Row(
        f'annotations ({name})',
        Status.PASS,
        f'{ann}: {len(ds)} items, {used} of {len(classes)} classes used',
    )


def check_annotations(ctx: Context) -> List[Row]:
    """Every split parses; its labels map onto ``cls_head.num_classes``."""
    num_classes = ctx.cfg.model.get('cls_head', {}).get('num_classes')
    rows = [
        Row(f'annotations ({name})', Status.FAIL, error)
        for name, error in ctx.built_datasets.errors.items()
    ]
    seen = set()
    for name, ds in ctx.datasets.items():
        if id(ds) not in seen:  # a shared dataset is checked once
            seen.add(id(ds))
            rows.append(_label_row(name, ds, num_classes))
    return rows


def _on_alarm(signum, frame):
    raise TimeoutError


def _check_one(task):
    """Pool worker: (path, min_frames, min_side, timeout) -> (path, reason)."""
    path, min_frames, min_side, timeout = task
    alarm = hasattr(signal, 'SIGALRM') and timeout > 0
    if alarm:  # a decoder stuck on garbage must not stall the check
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return path, check_video(path, min_frames, min_side)
    except TimeoutError:
        return path, (
            f'cannot read video {path}: decoding took more than {timeout:g} s'
        )
    except Exception as err:  # noqa: BLE001 - one bad file, not a crash
        return path, f'cannot read video {path}: {one_line(err)}'
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


def check_missing(ctx: Context) -> List[Row]:
    """Listed videos without a file, which the datasets that count them
    (Kinetics-400, HMDB51: ``missing_videos``) left out: written to
    ``<work_dir>/preflight_missing_videos.txt`` (name, expected path,
    annotation file); a WARN row, since every Kinetics-400 copy lacks
    some."""
    counted, seen = [], set()
    for top in ctx.datasets.values():
        for ds in iter_built_datasets(top):
            if id(ds) not in seen and hasattr(ds, 'missing_videos'):
                seen.add(id(ds))
                counted.append(ds)
    if not counted:
        return []
    lines = sorted(
        {
            (name, expected, str(getattr(ds, 'ann_file', '')))
            for ds in counted
            for name, expected in ds.missing_videos
        }
    )
    out = osp.join(ctx.work_dir, MISSING_LIST)
    os.makedirs(ctx.work_dir, exist_ok=True)
    atomic_write(out, ''.join('\t'.join(line) + '\n' for line in lines))
    if not lines:
        return [
            Row(
                'missing videos',
                Status.PASS,
                f'every listed video has a file ({len(counted)} datasets)',
            )
        ]
    first = f'{lines[0][0]} at {lines[0][1]}'
    return [
        Row(
            'missing videos',
            Status.WARN,
            f'{len(lines)} listed videos have no file, left out -> {out}; '
            f'first: {first}',
        )
    ]


def check_videos(ctx: Context) -> List[Row]:
    """Decode every video (or ``--sample N``) in parallel under the rules
    training applies; list the unusable ones in ``ctx.bad_list``. Listed
    videos without a file come first (:func:`check_missing`)."""
    if not ctx.datasets:
        raise Skip('no dataset could be built')
    missing_rows = check_missing(ctx)
    args = ctx.args
    policy, rules = {}, {}
    for ds in ctx.datasets.values():
        for i in range(len(ds)):
            path = ds.get_data_info(i)['filename']
            if policy.get(path) == 'raise':
                continue
            policy[path] = getattr(ds, 'on_bad_video', 'raise')
            rules[path] = (
                getattr(ds, 'min_frames', 1),
                getattr(ds, 'min_side', 1),
            )
    paths = sorted(policy)
    total = len(paths)
    if args.sample is not None and args.sample < total:
        paths = sorted(random.Random(args.seed).sample(paths, args.sample))
    tasks = [(p, *rules[p], args.timeout) for p in paths]
    start = time.time()
    results = []
    if tasks:
        workers = max(1, args.workers)
        results = track_parallel_progress(
            _check_one,
            tasks,
            nproc=min(workers, len(tasks)),
            chunksize=max(1, min(16, len(tasks) // (4 * workers))),
            keep_order=False,
            file=sys.stderr,
        )
    bad = sorted((p, r) for p, r in results if r)
    os.makedirs(osp.dirname(osp.abspath(ctx.bad_list)), exist_ok=True)
    atomic_write(ctx.bad_list, ''.join(f'{p}\t{r}\n' for p, r in bad))
    took = time.time() - start
    what = f'{len(paths)} of {total}' if len(paths) < total else f'{total}'
    if not bad:
        return missing_rows + [
            Row(
                'videos',
                Status.PASS,
                f'{what} videos decode '
                f'completely ({took:.1f} s, {args.workers} processes)',
            )
        ]
    fatal = [p for p, _ in bad if policy[p] == 'raise']
    detail = (
        f'{len(bad)} of {what} unusable -> {ctx.bad_list}; first: {bad[0][1]}'
    )
    if fatal:
        return missing_rows + [
            Row(
                'videos',
                Status.FAIL,
                f'{detail} ({len(fatal)} in a '
                "split with on_bad_video='raise')",
            )
        ]
    return missing_rows + [
        Row(
            'videos',
            Status.WARN,
            f"{detail} (training skips them: on_bad_video='skip')",
        )
    ]
