"""``tools/prepare_data.py SRC DST``: any set as downloaded, prepared as
frame bundles that decode fast; train on it with ``--data-root DST``.

The prepared set mirrors the source tree (:mod:`.prepare.tree`): each video
file (``.webm``, ``.mp4``, ``.avi``, ...: :data:`.prepare.VIDEO_SUFFIXES`)
becomes ``<same dir>/<stem>.jpgbundle``, every frame folder
(Something-Something V1's ``<id>/00001.jpg ...``) ``<parent>/<id>.jpgbundle``
holding its JPEG bytes unchanged, and every other file (annotations, split
lists) is copied. Each folder that receives bundles gets ``prepared.json``,
so the readers open the bundle where the annotations name the video or the
frame folder: SSv2, SSv1, Kinetics-400 (flat or in class folders) and
HMDB51 (class folders of ``.avi``) need ``--data-root DST`` and nothing else.

The conversion runs in parallel (``--workers``) with a progress bar, writes
each output atomically, skips outputs already complete (a rerun resumes;
temporaries a kill left are removed), verifies each output's frame count
against the source, lists failures in ``DST/failures.txt`` (paths relative
to ``SRC``) and ends with a one-line summary; exit status 2 if an item
failed. Videos are decoded with PyAV (:mod:`.prepare.units`).
"""

import argparse
from typing import List, Optional

from ..datasets import frame_bundle
from ._cli import run_cli
from .prepare import check_args, resolve_format, run, scan
from .prepare.cli import build_parser as _build_parser
from .prepare.cli import run as _run


def prepare(
    src: str,
    dst: str,
    fmt: str = 'default',
    workers: int = 1,
    quality: int = frame_bundle.DEFAULT_QUALITY,
    progress: bool = True,
) -> dict:
    """Prepare the tree ``src`` as ``dst`` (mirrored; see the module).

    Args:
        src (str): The set as downloaded (any layout).
        dst (str): The prepared set; created or resumed.
        fmt (str): A name in :data:`.prepare.FORMATS`, or 'default'.
        workers (int): Conversion processes (1: this process).
        quality (int): JPEG quality (1-100) of frames encoded from videos;
            frame folders keep their JPEGs.
        progress (bool): Show a progress bar.

    Returns:
        dict: :func:`.prepare.run`'s summary (``videos`` counts frame
        folders too; failures are named by their path under ``src``).

    Raises:
        InputError: ``src`` is not a folder, holds nothing to prepare or a
            prepared set; ``dst`` is or lies inside ``src``, or was
            prepared with other settings.
    """
    fmt = resolve_format(fmt)
    check_args(src, dst, quality)
    plan = scan(src, dst)
    return run(
        plan, src, dst, fmt, workers, quality, 'prepare' if progress else None
    )


def build_parser() -> argparse.ArgumentParser:
    return _build_parser(
        'Prepare a video set as downloaded (any layout: video files or '
        'frame folders, annotations beside them) as frame bundles that '
        'decode fast, mirroring its tree; train on it with --data-root DST.',
        'the set as downloaded',
    )


def run_args(args: argparse.Namespace) -> int:
    """Prepare, print the summary; exit status 2 if an item failed."""
    return _run(prepare, args, 'the sources')


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 all prepared, 2 bad input or an item failed (listed
    in DST/failures.txt)."""
    return run_cli(run_args, build_parser().parse_args(argv))
