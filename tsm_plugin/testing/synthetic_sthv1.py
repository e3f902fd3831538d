"""A synthetic Something-Something V1 set, written in the official layout.

The eight temporal classes of the synthetic SSv2 set
(:mod:`~tsm_plugin.testing.synthetic_ssv2`: the same motions, renderer,
ids and splits for a seed), stored as SSv1 stores its videos: JPEG frame
folders numbered from 1 and ``;``-separated CSVs, so
:class:`~tsm_plugin.datasets.sthv1.SthV1Dataset` and the tools run
unchanged on it::

    OUT/20bn-something-something-v1/<id>/00001.jpg, 00002.jpg, ...
    OUT/something-something-v1-labels.csv      one class name a line
    OUT/something-something-v1-train.csv       <id>;<class name>
    OUT/something-something-v1-validation.csv  <id>;<class name>
    OUT/something-something-v1-test.csv        <id>

SSv1's class names are SSv2's templates without brackets
(``Pushing something from left to right``). The labels CSV lists them in
its own, unsorted order (SSv1's is unsorted too), so that the TSM repo's
sorted numbering and mmaction2's CSV numbering differ on it.
``extra_classes`` adds names without videos (166 of them make SSv1's 174).
The same seed gives the same files, byte for byte (JPEG at quality 90,
4:2:0, :func:`~tsm_plugin.datasets.frame_bundle.encode_jpeg`).
"""

import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Tuple

from mmengine.logging import print_log

from ..datasets.frame_bundle import encode_jpeg
from ..datasets.frame_folder import frame_name
from ..datasets.ssv2 import template_to_label
from ..datasets.sthv1 import VIDEO_DIR
from ..errors import ConfigValueError, InputError
from ..utils.atomic import atomic_write
from ..utils.pool import map_jobs
from .synthetic_ssv2 import TEMPLATES, VideoJob
from .synthetic_ssv2.make import (
    SPLITS,
    _check_args,
    _jobs,
    _splits,
    render_job,
)

PREFIX = 'something-something-v1'
#: The CSV of each split, and of the class names.
CSV = {
    name: f'{PREFIX}-{name}.csv'
    for name in ('labels', 'train', 'validation', 'test')
}


def extra_class_name(k: int) -> str:
    """The ``k``-th class without videos (sorts among the real names)."""
    return f'Placeholder class {k:03d} without videos'


def class_names(extra_classes: int = 0) -> List[str]:
    """The labels CSV's names, in its (unsorted) order: the eight
    templates in :data:`TEMPLATES`' order, then the extra classes."""
    names = [template_to_label(t) for t in TEMPLATES]
    return names + [extra_class_name(k) for k in range(extra_classes)]


def make_folder(job: VideoJob) -> Tuple[str, str]:
    """Render one video as a frame folder; returns (id, placeholder).

    The frames are those the synthetic SSv2 set's ``make_one`` encodes
    for the same job (the same draws from the same generator).
    """
    frames, name = render_job(job)
    folder = osp.join(job.video_dir, job.vid)
    os.makedirs(folder)
    for i, frame in enumerate(frames):
        with open(osp.join(folder, frame_name(i)), 'wb') as f:
            f.write(encode_jpeg(frame))
    return job.vid, name


def _prepare(out_dir: str, overwrite: bool) -> str:
    """The empty frames folder (an old set removed only if overwrite)."""
    video_dir = osp.join(out_dir, VIDEO_DIR)
    old = [osp.join(out_dir, f) for f in CSV.values()] + [video_dir]
    if any(osp.exists(p) for p in old):
        if not overwrite:
            raise InputError(
                f'{out_dir} already holds a set (use '
                'overwrite / --overwrite to replace it)'
            )
        shutil.rmtree(video_dir, ignore_errors=True)
        for path in old[:-1]:
            if osp.exists(path):
                os.remove(path)
    try:
        os.makedirs(video_dir)
    except OSError as err:
        raise InputError(
            f'cannot create the set in {out_dir}: {err.strerror or err}'
        ) from None
    return video_dir


def _write_csvs(
    out_dir: str, splits: Dict[str, list], extra_classes: int
) -> Dict[str, str]:
    """The labels CSV and one CSV per split; returns their paths."""
    paths = dict(label_file=osp.join(out_dir, CSV['labels']))
    atomic_write(
        paths['label_file'],
        ''.join(name + '\n' for name in class_names(extra_classes)),
    )
    for split, items in splits.items():
        rows = [
            item['id']
            if 'template' not in item
            else f'{item["id"]};{template_to_label(item["template"])}'
            for item in items
        ]
        paths[split] = osp.join(out_dir, CSV[split])
        atomic_write(paths[split], ''.join(row + '\n' for row in rows))
    return paths


def make_synthetic_sthv1(
    out_dir: str,
    num_train_per_class: int = 48,
    num_val_per_class: int = 10,
    num_test_per_class: int = 2,
    height: int = 100,
    width: Optional[int] = None,
    fps: int = 12,
    min_seconds: float = 2.0,
    max_seconds: float = 4.0,
    seed: int = 0,
    extra_classes: int = 0,
    textured: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Write a synthetic SSv1-format set (see the module docstring).

    Args:
        out_dir (str): The set's root (``data_root`` in configs).
        num_train_per_class (int): Training videos per class.
        num_val_per_class (int): Validation videos per class.
        num_test_per_class (int): Unlabelled test videos per class.
        height (int): Frame height (even). SSv1's frames are 100 px high.
        width (int, optional): Frame width (even); ``None`` gives 4:3.
        fps (int): Frame rate. SSv1 is about 12.
        min_seconds (float): Shortest clip.
        max_seconds (float): Longest clip.
        seed (int): Same seed, same files.
        extra_classes (int): Class names without videos, after the eight
            in the labels CSV (166: SSv1's 174 classes).
        textured (bool): A rich moving-noise background (real footage's
            JPEG sizes and decoding cost, for benchmarks).
        overwrite (bool): Replace an existing set in ``out_dir``.
        workers (int): Rendering processes (1 = in this process).
        progress (bool): Show a progress bar.

    Returns:
        dict: ``root``, ``video_dir``, ``label_file``, ``train``,
        ``validation``, ``test`` (paths), ``num_classes`` and ``counts``
        (videos per split).

    Raises:
        ConfigValueError: a bad size, duration, frame rate or count.
        InputError: ``out_dir`` already holds a set and not ``overwrite``,
            or cannot be created.
    """
    width = width or int(round(height * 4 / 3 / 2)) * 2
    per_class = (num_train_per_class, num_val_per_class, num_test_per_class)
    counts = dict(zip(SPLITS, per_class))
    _check_args(height, width, fps, min_seconds, max_seconds, counts)
    if extra_classes < 0:
        raise ConfigValueError(
            f'extra_classes must be >= 0, got {extra_classes}'
        )
    video = dict(height=height, width=width, fps=fps, textured=textured)
    video.update(min_seconds=min_seconds, max_seconds=max_seconds)
    video_dir = _prepare(out_dir, overwrite)
    plan, order, jobs = _jobs(counts, seed, video_dir, **video)
    done = map_jobs(
        make_folder, jobs, workers, 'synthetic SSv1' if progress else None
    )
    splits = _splits(plan, order, done, list(counts))
    paths = _write_csvs(out_dir, splits, extra_classes)
    num_classes = len(TEMPLATES) + extra_classes
    print_log(
        f'synthetic SSv1: {len(jobs)} videos ({counts}) of {len(TEMPLATES)} '
        f'of {num_classes} classes, {height}x{width} at {fps} fps, in '
        f'{out_dir}',
        logger='current',
    )
    counts = {k: len(v) for k, v in splits.items()}
    return dict(
        paths,
        root=out_dir,
        video_dir=video_dir,
        counts=counts,
        num_classes=num_classes,
    )
