"""The set on disk: ids, splits, one job per video, the JSON files."""

import json
import os
import os.path as osp
import shutil
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from ...datasets.ssv2 import template_to_label
from ...errors import ConfigValueError, InputError
from ...utils.atomic import atomic_write
from ...utils.pool import map_jobs
from .encode import CODECS, write_video
from .motions import TEMPLATES, Motion
from .render import render_video

VIDEO_DIR = '20bn-something-something-v2'
LABEL_DIR = 'labels'
SPLITS = ('train', 'validation', 'test')


class VideoJob(NamedTuple):
    """Everything one worker needs to write one video."""

    vid: str  # the SSv2-like id, the file's stem
    kind: Motion
    seed: int  # with ``index``, seeds the video's generator
    index: int
    video_dir: str
    height: int
    width: int
    fps: int
    min_seconds: float
    max_seconds: float
    textured: bool
    container: str = 'webm'  # the file's suffix: webm, mp4 or avi


def fill_template(template: str, placeholders: Sequence[str]) -> str:
    """The filled-in sentence SSv2 stores as ``label`` (lower-case start)."""
    out = template
    for word in placeholders:
        start = out.index('[')
        out = out[:start] + word + out[out.index(']', start) + 1 :]
    return out[:1].lower() + out[1:]


def render_job(job: VideoJob) -> Tuple[List[np.ndarray], str]:
    """One job's frames and placeholder: its duration, frame count and
    motion drawn from the generator seeded by ``(seed, index)``, so every
    layout's generator renders the same video for the same job."""
    rng = np.random.default_rng([job.seed, job.index])
    seconds = rng.uniform(job.min_seconds, job.max_seconds)
    n = max(2, int(round(seconds * job.fps)))
    return render_video(
        job.kind, rng, n, seconds, job.height, job.width, job.textured
    )


def make_one(job: VideoJob) -> Tuple[str, str]:
    """Render and encode one video; returns (id, placeholder)."""
    frames, name = render_job(job)
    write_video(
        osp.join(job.video_dir, f'{job.vid}.{job.container}'),
        frames,
        job.fps,
        job.width,
        job.height,
        job.container,
    )
    return job.vid, name


def _check_args(
    height: int,
    width: int,
    fps: int,
    min_seconds: float,
    max_seconds: float,
    counts: Dict[str, int],
    container: str = 'webm',
) -> None:
    if height < 16 or width < 16 or height % 2 or width % 2:
        raise ConfigValueError(
            f'height and width must be even and >= 16, got {height}x{width}'
        )
    if not 0 < min_seconds <= max_seconds:
        raise ConfigValueError(
            f'need 0 < min_seconds <= max_seconds, got '
            f'{min_seconds}, {max_seconds}'
        )
    if min(counts.values()) < 0:
        raise ConfigValueError(f'videos per class must be >= 0, got {counts}')
    if fps < 1:
        raise ConfigValueError(f'fps must be >= 1, got {fps}')
    if container not in CODECS:
        raise ConfigValueError(
            f'container must be one of {sorted(CODECS)}, got {container!r}'
        )


def _prepare(out_dir: str, overwrite: bool) -> Tuple[str, str]:
    """The empty video and label folders (an old set only if overwrite)."""
    video_dir = osp.join(out_dir, VIDEO_DIR)
    label_dir = osp.join(out_dir, LABEL_DIR)
    if osp.exists(label_dir) or osp.exists(video_dir):
        if not overwrite:
            raise InputError(
                f'{out_dir} already holds a set (use '
                'overwrite / --overwrite to replace it)'
            )
        shutil.rmtree(label_dir, ignore_errors=True)
        shutil.rmtree(video_dir, ignore_errors=True)
    try:
        os.makedirs(video_dir)
        os.makedirs(label_dir)
    except OSError as err:
        raise InputError(
            f'cannot create the set in {out_dir}: {err.strerror or err}'
        ) from None
    return video_dir, label_dir


def _jobs(
    counts: Dict[str, int], seed: int, video_dir: str, **video
) -> Tuple[List[Tuple[str, str]], np.ndarray, List[VideoJob]]:
    """One job per video: class-balanced, shuffled, unique SSv2-like ids.

    Returns:
        tuple: the plan ((split, template) per video, class-balanced), the
        shuffled order (job ``index`` renders plan entry ``order[index]``)
        and the jobs.
    """
    rng = np.random.default_rng(seed)
    plan: List[Tuple[str, str]] = [
        (split, t)
        for split, k in counts.items()
        for t in TEMPLATES
        for _ in range(k)
    ]
    total = len(plan)
    # SSv2's ids run to about 220000; draw from at least as many.
    ids = rng.permutation(max(220000, 2 * total))[:total] + 1
    order = rng.permutation(total)
    jobs = [
        VideoJob(
            vid=str(ids[index]),
            kind=TEMPLATES[plan[pos][1]],
            seed=seed,
            index=index,
            video_dir=video_dir,
            **video,
        )
        for index, pos in enumerate(order)
    ]
    return plan, order, jobs


def _splits(
    plan: List[Tuple[str, str]], order, done: list, splits: Sequence[str]
) -> Dict[str, list]:
    """The annotation entries of each split (test: ids only)."""
    out: Dict[str, list] = {name: [] for name in splits}
    for (vid, name), pos in zip(done, order):
        split, template = plan[pos]
        if split == 'test':
            out[split].append({'id': vid})
        else:
            out[split].append(
                {
                    'id': vid,
                    'label': fill_template(template, [name]),
                    'template': template,
                    'placeholders': [name],
                }
            )
    return out


def _write_labels(
    out_dir: str, video_dir: str, label_dir: str, splits: Dict[str, list]
) -> Dict[str, str]:
    """``labels.json`` and one JSON per split; returns their paths (and the
    set's root and video folder)."""
    labels = {
        name: str(i)
        for i, name in enumerate(
            sorted(template_to_label(t) for t in TEMPLATES)
        )
    }
    paths = dict(
        root=out_dir,
        video_dir=video_dir,
        label_file=osp.join(label_dir, 'labels.json'),
    )
    atomic_write(paths['label_file'], json.dumps(labels, indent=1))
    for split, items in splits.items():
        paths[split] = osp.join(label_dir, f'{split}.json')
        atomic_write(paths[split], json.dumps(items, indent=1))
    return paths


def make_synthetic_ssv2(
    out_dir: str,
    num_train_per_class: int = 48,
    num_val_per_class: int = 10,
    num_test_per_class: int = 2,
    height: int = 72,
    width: Optional[int] = None,
    fps: int = 12,
    min_seconds: float = 2.0,
    max_seconds: float = 4.0,
    seed: int = 0,
    textured: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = True,
    container: str = 'webm',
) -> dict:
    """Write a synthetic SSv2-format set (see the package docstring).

    Args:
        out_dir (str): The set's root (``data_root``): ``labels/`` and
            ``20bn-something-something-v2/``.
        num_train_per_class (int): Training videos per class.
        num_val_per_class (int): Validation videos per class.
        num_test_per_class (int): Unlabelled test videos per class.
        height (int): Frame height (even). SSv2 is 240.
        width (int, optional): Frame width (even); ``None`` gives 4:3.
        fps (int): Frame rate. SSv2 is about 12.
        min_seconds (float): Shortest clip. SSv2 clips last 2-6 s.
        max_seconds (float): Longest clip.
        seed (int): Same seed, same JSON and same video files.
        textured (bool): A moving-noise background that costs what real
            footage costs to decode (for benchmarks).
        overwrite (bool): Replace an existing set in ``out_dir``.
        workers (int): Encoding processes (1 = in this process).
        progress (bool): Show a progress bar.
        container (str): 'webm' (VP9, as SSv2); 'mp4' or 'avi' for
            benchmarks (``SSv2Dataset(suffix='.mp4')`` reads them).

    Returns:
        dict: ``root``, ``video_dir``, ``label_file``, ``train``,
        ``validation``, ``test`` (paths), ``num_classes``, ``counts``.

    Raises:
        ConfigValueError: a bad size, duration, rate, count or container.
        InputError: ``out_dir`` holds a set (no overwrite) or cannot be made.
    """
    width = width or int(round(height * 4 / 3 / 2)) * 2
    per_class = (num_train_per_class, num_val_per_class, num_test_per_class)
    counts = dict(zip(SPLITS, per_class))
    sizes = (height, width, fps, min_seconds, max_seconds)
    _check_args(*sizes, counts, container)
    video_dir, label_dir = _prepare(out_dir, overwrite)
    plan, order, jobs = _jobs(
        counts,
        seed,
        video_dir,
        height=height,
        width=width,
        fps=fps,
        min_seconds=min_seconds,
        max_seconds=max_seconds,
        textured=textured,
        container=container,
    )
    done = map_jobs(
        make_one, jobs, workers, 'synthetic SSv2' if progress else None
    )
    splits = _splits(plan, order, done, list(counts))
    paths = _write_labels(out_dir, video_dir, label_dir, splits)
    print_log(
        f'synthetic SSv2: {len(jobs)} videos ({counts}) of {len(TEMPLATES)} '
        f'classes, {height}x{width} at {fps} fps, in {out_dir}',
        logger='current',
    )
    return dict(
        paths,
        num_classes=len(TEMPLATES),
        counts={k: len(v) for k, v in splits.items()},
    )
