"""Synthetic Kinetics-400 and HMDB51 sets, written in the official layouts.

The eight temporal classes, renderer, per-video seeding and id plan of the
synthetic SSv2 set (:mod:`.synthetic_ssv2`), written as the downloads lay
Kinetics-400 and HMDB51 out, so their readers
(:class:`~tsm_plugin.datasets.kinetics.Kinetics400Dataset`,
:class:`~tsm_plugin.datasets.hmdb51.HMDB51Dataset`) and the decoders run on
real files:

* :func:`make_synthetic_k400`: H.264 ``.mp4`` named
  ``<youtube_id>_<start:06d>_<end:06d>.mp4`` (11-character YouTube-like
  ids), flat (``train/<name>.mp4``, as the CVDF tarballs) or in class
  folders (``train/<class>/<name>.mp4``, as the ActivityNet crawler), with
  ``annotations/{train,val,test}.csv`` (``test.csv`` without labels).
  ``missing`` training videos are listed but not written, and ``broken``
  ones are written truncated;
* :func:`make_synthetic_hmdb51`: MPEG-4 ``.avi`` in
  ``hmdb51/<class>/<video>.avi`` and the three official split files per
  class, ``testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt``, whose
  1 / 2 / 0 (train / test / unused) flags differ from split to split.

Class names: the SSv2 templates of the eight classes without brackets
(``'Pushing something from left to right'``...), as Kinetics-400 names its
classes (words and spaces); for HMDB51 lower case with underscores
(``'pushing_something_from_left_to_right'``), as HMDB51's folders. Two
pairs of these classes are mirror images (left to right / right to left):
the horizontal flip the K400 and HMDB51 recipes train with confuses them.

The same seed gives the same annotation files and the same videos.
"""

import os
import os.path as osp
import shutil
import string
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from ..datasets.ssv2 import template_to_label
from ..errors import ConfigValueError, InputError
from ..utils.atomic import atomic_write
from ..utils.pool import map_jobs
from .synthetic_ssv2.encode import write_video
from .synthetic_ssv2.make import VideoJob, _check_args, _jobs, render_job

K400_SPLITS = ('train', 'val', 'test')
LAYOUTS = ('flat', 'class_folders')
HMDB_VIDEO_DIR = 'hmdb51'
HMDB_SPLIT_DIR = 'testTrainMulti_7030_splits'
_YOUTUBE_CHARS = string.ascii_letters + string.digits + '-_'


class FileJob(NamedTuple):
    """One video to write: the SSv2 job (what to render) and where."""

    job: VideoJob
    path: str
    container: str
    broken: bool = False


def write_one(file_job: FileJob) -> int:
    """Render and encode one video (a truncated one when ``broken``);
    returns its frame count."""
    job = file_job.job
    frames, _ = render_job(job)
    os.makedirs(osp.dirname(file_job.path), exist_ok=True)
    count = write_video(
        file_job.path,
        frames,
        job.fps,
        job.width,
        job.height,
        file_job.container,
    )
    if file_job.broken:  # a download cut short: the first half only
        with open(file_job.path, 'rb') as f:
            data = f.read()
        atomic_write(file_job.path, data[: len(data) // 2])
    return count


def class_names(style: str = 'k400') -> Dict[str, str]:
    """``{template: class name}``: the template without brackets (K400
    style), or lower case with underscores (``style='hmdb51'``)."""
    from .synthetic_ssv2 import TEMPLATES

    out = {}
    for t in TEMPLATES:
        name = template_to_label(t)
        out[t] = name.lower().replace(' ', '_') if style == 'hmdb51' else name
    return out


def _new_root(out_dir: str, parts: Tuple[str, ...], overwrite: bool):
    """Empty ``out_dir/<part>`` folders (an old set only if overwrite)."""
    paths = [osp.join(out_dir, p) for p in parts]
    if any(osp.exists(p) for p in paths):
        if not overwrite:
            raise InputError(
                f'{out_dir} already holds a set (use '
                'overwrite / --overwrite to replace it)'
            )
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
    try:
        for p in paths:
            os.makedirs(p)
    except OSError as err:
        raise InputError(
            f'cannot create the set in {out_dir}: {err.strerror or err}'
        ) from None


def _video_args(height, width, fps, min_seconds, max_seconds, counts):
    width = width or int(round(height * 5 / 4 / 2)) * 2
    _check_args(height, width, fps, min_seconds, max_seconds, counts)
    return dict(
        height=height,
        width=width,
        fps=fps,
        min_seconds=min_seconds,
        max_seconds=max_seconds,
        textured=False,
    )


def _youtube_ids(seed: int, n: int) -> List[str]:
    """``n`` distinct 11-character YouTube-like ids."""
    rng = np.random.default_rng([seed, 400])
    ids: List[str] = []
    while len(ids) < n:
        draw = ''.join(rng.choice(list(_YOUTUBE_CHARS), 11))
        if draw not in ids:
            ids.append(draw)
    return ids


def _write_k400_csvs(out_dir: str, rows: Dict[str, list]) -> dict:
    """``annotations/<split>.csv`` of each split, rows sorted by label (as
    the CVDF files); ``test.csv`` without the label column. Returns
    ``{split: path}``."""
    paths = {}
    for split, split_rows in rows.items():
        labelled = split != 'test'
        head = 'label,youtube_id,time_start,time_end,split'
        lines = [head if labelled else head.split(',', 1)[1]]
        for label, yid, start, end, _ in sorted(split_rows):
            quoted = f'"{label}"' if ' ' in label else label
            cols = [quoted] if labelled else []
            lines.append(','.join(cols + [yid, str(start), str(end), split]))
        paths[split] = osp.join(out_dir, 'annotations', f'{split}.csv')
        atomic_write(paths[split], '\n'.join(lines) + '\n')
    return paths


def _check_k400(layout, missing, broken, train_per_class):
    if layout not in LAYOUTS:
        raise ConfigValueError(f'layout must be one of {LAYOUTS}: {layout!r}')
    n_train = train_per_class * len(class_names())
    if missing < 0 or broken < 0 or missing + broken > n_train:
        raise ConfigValueError(
            f'need 0 <= missing + broken <= {n_train} training videos, got '
            f'missing={missing}, broken={broken}'
        )


def _k400_files(plan, order, jobs, seed, layout, out_dir, missing, broken):
    """The CSV rows of each split, the files to write, and the names left
    missing and the paths written broken (the first training jobs)."""
    names = class_names()
    ids = _youtube_ids(seed, len(jobs))
    starts = np.random.default_rng([seed, 401]).integers(0, 300, len(jobs))
    rows: Dict[str, list] = {}
    files, out = [], dict(missing=[], broken=[])
    for job, yid, start in zip(jobs, ids, starts.tolist()):
        split, template = plan[order[job.index]]
        label = names[template]
        name = f'{yid}_{start:06d}_{start + 10:06d}'
        folder = label if layout == 'class_folders' else ''
        if split == 'test':
            folder = ''  # the crawler's test/ folder is flat
        path = osp.join(out_dir, split, folder, name + '.mp4')
        rows.setdefault(split, []).append(
            (label, yid, start, start + 10, split)
        )
        if split == 'train' and len(out['missing']) < missing:
            out['missing'].append(name)
            continue
        bad = split == 'train' and len(out['broken']) < broken
        if bad:
            out['broken'].append(path)
        files.append(FileJob(job, path, 'mp4', bad))
    return rows, files, out


def make_synthetic_k400(
    out_dir: str,
    num_train_per_class: int = 2,
    num_val_per_class: int = 1,
    num_test_per_class: int = 0,
    layout: str = 'flat',
    missing: int = 0,
    broken: int = 0,
    height: int = 32,
    width: Optional[int] = None,
    fps: int = 12,
    min_seconds: float = 1.0,
    max_seconds: float = 1.5,
    seed: int = 0,
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Write a synthetic Kinetics-400-format set (see the module docstring).

    ``OUT/annotations/{train,val,test}.csv`` (a split with no videos has no
    file; ``test.csv`` has no label column) and ``OUT/{train,val,test}/``.

    Args:
        out_dir (str): The set's root, as ``data_root`` in configs.
        num_train_per_class (int): Training videos per class.
        num_val_per_class (int): Validation videos per class.
        num_test_per_class (int): Unlabelled test videos per class.
        layout (str): 'flat' (``train/<name>.mp4``) or 'class_folders'
            (``train/<class>/<name>.mp4``; test stays flat).
        missing (int): Training videos listed in ``train.csv`` but not
            written.
        broken (int): Training videos written truncated (unreadable).
        height, width, fps, min_seconds, max_seconds, seed, overwrite,
            workers, progress: as :func:`~.synthetic_ssv2.
            make_synthetic_ssv2` (``width=None``: 5:4).

    Returns:
        dict: ``root``, ``train`` / ``val`` / ``test`` (the CSVs written),
        ``video_dirs`` ({split: folder}), ``classes`` (sorted),
        ``missing`` (names not written), ``broken`` (truncated files) and
        ``counts`` (clips listed per split).

    Raises:
        ConfigValueError: a bad layout, size, duration, frame rate or
            count.
        InputError: ``out_dir`` already holds a set and not ``overwrite``.
    """
    per_class = (num_train_per_class, num_val_per_class, num_test_per_class)
    counts = dict(zip(K400_SPLITS, per_class))
    video = _video_args(height, width, fps, min_seconds, max_seconds, counts)
    _check_k400(layout, missing, broken, num_train_per_class)
    used = tuple(s for s in K400_SPLITS if counts[s])
    _new_root(out_dir, ('annotations',) + used, overwrite)
    plan, order, jobs = _jobs(counts, seed, out_dir, **video)
    rows, files, out = _k400_files(
        plan, order, jobs, seed, layout, out_dir, missing, broken
    )
    map_jobs(write_one, files, workers, 'synthetic K400' if progress else None)
    paths = _write_k400_csvs(out_dir, rows)
    print_log(
        f'synthetic K400: {len(jobs)} clips listed ({counts} per class), '
        f'{len(out["missing"])} missing, {len(out["broken"])} broken, '
        f'{layout} layout, in {out_dir}',
        logger='current',
    )
    return dict(
        paths,
        **out,
        root=out_dir,
        video_dirs={s: osp.join(out_dir, s) for s in used},
        classes=sorted(class_names().values()),
        counts={s: len(rows[s]) for s in used},
    )


def hmdb51_flags(num_videos: int, split: int) -> List[str]:
    """The split file flags of a class's videos (in name order) in
    ``split`` (1-3): about 30 % test (2), one unused (0) from 3 videos on,
    the rest train (1); the pattern turns by one video from split to split,
    so each split's membership differs."""
    n_test = max(1, round(0.3 * num_videos)) if num_videos >= 2 else 0
    n_unused = 1 if num_videos >= 3 else 0
    pattern = (
        ['1'] * (num_videos - n_test - n_unused)
        + ['2'] * n_test
        + ['0'] * n_unused
    )
    turn = (split - 1) % max(num_videos, 1)
    return pattern[turn:] + pattern[:turn]


def _hmdb51_splits(videos, split_dir, video_dir, missing):
    """Write each class's three split files; returns the flags
    ({split: {class/video: flag}}), the files to write and the
    ``class/video`` left missing (split 1 training videos)."""
    flags = {s: {} for s in (1, 2, 3)}
    files, lost = [], []
    for cls in sorted(videos):
        listed = sorted(videos[cls])
        for split in (1, 2, 3):
            marks = hmdb51_flags(len(listed), split)
            lines = []
            for (name, _), flag in zip(listed, marks):
                flags[split][f'{cls}/{name}'] = flag
                # the official files end each line with a space
                lines.append(f'{name} {flag} \n')
            path = osp.join(split_dir, f'{cls}_test_split{split}.txt')
            atomic_write(path, ''.join(lines))
        for name, job in listed:
            if len(lost) < missing and flags[1][f'{cls}/{name}'] == '1':
                lost.append(f'{cls}/{name}')
                continue
            path = osp.join(video_dir, cls, name)
            files.append(FileJob(job, path, 'avi'))
    return flags, files, lost


def make_synthetic_hmdb51(
    out_dir: str,
    videos_per_class: int = 3,
    missing: int = 0,
    height: int = 32,
    width: Optional[int] = None,
    fps: int = 12,
    min_seconds: float = 1.0,
    max_seconds: float = 1.5,
    seed: int = 0,
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Write a synthetic HMDB51-format set (see the module docstring).

    ``OUT/hmdb51/<class>/<video>.avi`` and
    ``OUT/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt``
    (flags: :func:`hmdb51_flags`).

    Args:
        out_dir (str): The set's root, as ``data_root`` in configs.
        videos_per_class (int): Videos per class (>= 2 for a train and a
            test video in every split; from 3 on, one is unused per split).
        missing (int): Videos listed (train in split 1) but not written.
        height, width, fps, min_seconds, max_seconds, seed, overwrite,
            workers, progress: as :func:`~.synthetic_ssv2.
            make_synthetic_ssv2` (``width=None``: 5:4).

    Returns:
        dict: ``root``, ``video_dir``, ``split_dir``, ``classes`` (sorted),
        ``flags`` ({split: {class/video: flag}}) and ``missing``
        (``class/video`` not written).

    Raises:
        ConfigValueError: a bad size, duration, frame rate or count.
        InputError: ``out_dir`` already holds a set and not ``overwrite``.
    """
    counts = dict(all=videos_per_class)
    video = _video_args(height, width, fps, min_seconds, max_seconds, counts)
    if not 0 <= missing <= videos_per_class * len(class_names()):
        raise ConfigValueError(f'missing must be >= 0, got {missing}')
    _new_root(out_dir, (HMDB_VIDEO_DIR, HMDB_SPLIT_DIR), overwrite)
    video_dir = osp.join(out_dir, HMDB_VIDEO_DIR)
    split_dir = osp.join(out_dir, HMDB_SPLIT_DIR)
    plan, order, jobs = _jobs(counts, seed, video_dir, **video)
    names = class_names('hmdb51')
    videos: Dict[str, List[Tuple[str, VideoJob]]] = {}
    for job in jobs:
        cls = names[plan[order[job.index]][1]]
        k = len(videos.setdefault(cls, []))
        videos[cls].append((f'{job.vid}_{cls}_f_cm_np1_fr_med_{k}.avi', job))
    flags, files, lost = _hmdb51_splits(videos, split_dir, video_dir, missing)
    map_jobs(
        write_one, files, workers, 'synthetic HMDB51' if progress else None
    )
    print_log(
        f'synthetic HMDB51: {len(jobs)} videos ({videos_per_class} per '
        f'class, {len(lost)} missing), 3 splits, in {out_dir}',
        logger='current',
    )
    return dict(
        root=out_dir,
        video_dir=video_dir,
        split_dir=split_dir,
        classes=sorted(videos),
        flags=flags,
        missing=lost,
    )
