"""``tools/prepare_ssv2.py SRC DST``: SSv2 turned into a decode-light format.

SSv2's ``.webm`` files carry one keyframe each, so a 16-frame clip costs
decoding nearly the whole video (~48 frames): on SSv2-sized videos decoding
is ~90 % of the training pipeline's time, and a GPU waits on the CPUs. The
prepared set stores each video as one frame bundle (every frame a JPEG at
quality 90, one file per video with an offset index;
:mod:`tsm_plugin.datasets.frame_bundle`), so a clip costs 16 JPEG decodes.

The bundle was the fastest per core of the candidates measured (VP9 with
short GOPs, H.264 and MJPEG all-intra, JPEG decoded by OpenCV, simplejpeg
or Pillow; the table is in ``docs/data.md``): short GOPs do not help, as 16
of ~48 frames touch nearly every GOP. Whole pipelines are compared by
``tools/benchmark.py data --format default``.

This tool reads the SSv2 layout alone (``labels/`` and
``20bn-something-something-v2/<id>.webm``; failures are named ``<id>.webm``);
``tools/prepare_data.py`` (:mod:`.prepare_data`) prepares any tree,
SSv2's included, with the same engine (:mod:`.prepare`): parallel with a
progress bar, atomic outputs, resume, each output's frame count verified,
failures in ``DST/failures.txt``, a one-line summary. ``DST`` gets a copy
of ``labels/``, so ``--data-root DST`` is all a user changes; the video
folder's ``prepared.json`` tells the readers the format
(:func:`tsm_plugin.datasets.video_io.resolve_path`).
"""

import argparse
import os
import os.path as osp
from typing import List, Optional

from ..datasets import frame_bundle
from ..errors import InputError
from ._cli import run_cli
from .prepare import (
    DEFAULT_FORMAT,
    FAILURES,
    FORMATS,
    Outcome,
    Plan,
    Unit,
    check_args,
    convert_video,
    is_complete,
    resolve_format,
)
from .prepare import run as run_plan
from .prepare import summary_line as _summary_line
from .prepare.cli import build_parser as _build_parser
from .prepare.cli import run as _run

VIDEO_DIR = '20bn-something-something-v2'
LABEL_DIR = 'labels'
SOURCE_SUFFIX = '.webm'

__all__ = [
    'DEFAULT_FORMAT',
    'FAILURES',
    'FORMATS',
    'InputError',
    'Outcome',
    'convert_video',
    'is_complete',
    'main',
    'prepare',
    'prepared_path',
    'resolve_format',
    'summary_line',
]


def _check_source(src: str) -> str:
    videos = osp.join(src, VIDEO_DIR)
    if not osp.isfile(osp.join(src, LABEL_DIR, 'labels.json')):
        raise InputError(
            f'{src}: no {LABEL_DIR}/labels.json (not an SSv2-format set)'
        )
    if not osp.isdir(videos):
        raise InputError(f'{src}: no {VIDEO_DIR}/ folder of .webm videos')
    return videos


def prepared_path(dst: str, vid: str, fmt: str = DEFAULT_FORMAT) -> str:
    """The file ``vid`` becomes in the prepared set ``dst``."""
    return osp.join(dst, VIDEO_DIR, vid + FORMATS[fmt][0])


def _plan(src: str, dst: str, fmt: str) -> Plan:
    """Each ``<id>.webm`` a bundle, each file of ``labels/`` copied."""
    src_videos = _check_source(src)
    ids = sorted(
        name[: -len(SOURCE_SUFFIX)]
        for name in os.listdir(src_videos)
        if name.endswith(SOURCE_SUFFIX)
    )
    units = [
        Unit(
            vid + SOURCE_SUFFIX,
            osp.join(src_videos, vid + SOURCE_SUFFIX),
            prepared_path(dst, vid, fmt),
        )
        for vid in ids
    ]
    labels = osp.join(src, LABEL_DIR)
    copies = [
        (osp.join(labels, name), osp.join(dst, LABEL_DIR, name))
        for name in sorted(os.listdir(labels))
        if osp.isfile(osp.join(labels, name))
    ]
    return Plan(units, copies, {osp.join(dst, VIDEO_DIR): src_videos})


def prepare(
    src: str,
    dst: str,
    fmt: str = 'default',
    workers: int = 1,
    quality: int = frame_bundle.DEFAULT_QUALITY,
    progress: bool = True,
) -> dict:
    """Convert the SSv2-format set ``src`` into ``fmt`` under ``dst``.

    Args:
        src (str): Holds ``labels/`` and ``20bn-something-something-v2/``
            (``<id>.webm``).
        dst (str): The prepared set (same layout); created or resumed.
        fmt (str): A name in :data:`FORMATS`, or 'default'.
        workers (int): Conversion processes (1: this process).
        quality (int): JPEG quality, 1-100.
        progress (bool): Show a progress bar.

    Returns:
        dict: :func:`.prepare.run`'s summary (counts ``videos``,
        ``converted``, ``skipped``, ``failed``; ``failures``
        ([(``<id>.webm``, reason)]), ``storage_ratio``, ...) with
        ``webm_bytes``, the ``source_bytes`` of the videos prepared.

    Raises:
        InputError: ``src`` is not an SSv2-format set, ``dst`` is ``src`` or
            was prepared with other settings.
    """
    fmt = resolve_format(fmt)
    check_args(src, dst, quality)
    plan = _plan(src, dst, fmt)
    s = run_plan(
        plan,
        src,
        dst,
        fmt,
        workers,
        quality,
        'prepare SSv2' if progress else None,
    )
    return dict(s, webm_bytes=s['source_bytes'])


def summary_line(s: dict) -> str:
    """The one line the tool ends with."""
    return _summary_line(s, 'the .webm')


def build_parser() -> argparse.ArgumentParser:
    return _build_parser(
        'Convert an SSv2-format set (labels/ and '
        f'{VIDEO_DIR}/<id>.webm) into a format that decodes fast; train '
        'on it with --data-root DST (any other layout: '
        'tools/prepare_data.py).',
        'the set as downloaded',
    )


def run(args: argparse.Namespace) -> int:
    """Prepare, print the summary; exit status 2 if a video failed."""
    return _run(prepare, args, 'the .webm')


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 all prepared, 2 bad input or a video failed (listed
    in DST/failures.txt)."""
    return run_cli(run, build_parser().parse_args(argv))
