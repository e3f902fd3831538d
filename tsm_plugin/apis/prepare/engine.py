"""Run a plan: mark the folders, copy the files, write the bundles in
parallel, list the failures, sum up.

A plan (:class:`Plan`) says which bundles to write (:class:`~.units.Unit`),
which files to copy, and which folders receive bundles. Each such folder
gets ``prepared.json`` (the format, its file suffix and the JPEG quality),
which the readers use to open ``<stem>.jpgbundle`` where ``<stem>.<ext>``
(or the frame folder ``<stem>``) is asked for
(:func:`tsm_plugin.datasets.video_io.resolve_path`); a rerun checks that an
existing marker has the same settings. Complete bundles no older than
their source are skipped, what
a killed run left (temporaries) is removed, and failures are listed in
``DST/failures.txt``.
"""

import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Tuple

from mmengine.logging import print_log

from ...datasets import frame_bundle
from ...datasets.video_io import PREPARED_MARKER
from ...errors import ConfigValueError, InputError
from ...utils.atomic import atomic_write, remove_stale_temporaries, write_json
from ...utils.pool import map_jobs
from .units import Outcome, Unit, convert, copy_file, current_frames, measured

FAILURES = 'failures.txt'
# name -> (suffix, what it is); 'default' names DEFAULT_FORMAT.
FORMATS = {
    'jpeg': (frame_bundle.SUFFIX, 'one file per video, each frame a JPEG'),
}
DEFAULT_FORMAT = 'jpeg'  # the fastest per core measured (docs/data.md)


class Plan(NamedTuple):
    """What a run writes."""

    units: List[Unit]
    copies: List[Tuple[str, str]]  # (source file, destination file)
    folders: Dict[str, str]  # folder receiving bundles -> its source folder


def resolve_format(name: str) -> str:
    """A format name; 'default' is :data:`DEFAULT_FORMAT`.

    Raises:
        ConfigValueError: an unknown name.
    """
    if name == 'default':
        return DEFAULT_FORMAT
    if name not in FORMATS:
        raise ConfigValueError(
            f'unknown format {name!r}; use default or one of '
            f'{", ".join(FORMATS)}'
        )
    return name


def check_args(src: str, dst: str, quality: int) -> None:
    """Raise for a quality outside 1..100 or ``dst`` being ``src``."""
    if not 1 <= quality <= 100:
        raise ConfigValueError(f'quality must be in 1..100, got {quality}')
    if osp.abspath(src) == osp.abspath(dst):
        raise InputError(f'DST must differ from SRC ({src})')


def mark(folder: str, fmt: str, quality: int, src: str) -> None:
    """Write ``folder``'s format marker, or check that an earlier run's
    matches (raises :class:`InputError` if not)."""
    want = dict(format=fmt, suffix=FORMATS[fmt][0], quality=quality)
    marker = osp.join(folder, PREPARED_MARKER)
    if osp.isfile(marker):
        try:
            with open(marker, encoding='utf-8') as f:
                have = json.load(f)
        except (OSError, ValueError) as err:
            raise InputError(f'{marker}: unreadable ({err})') from None
        have = have if isinstance(have, dict) else {}
        if {k: have.get(k) for k in want} != want:
            raise InputError(
                f'{marker}: DST was prepared as {have.get("format")} '
                f'quality {have.get("quality")}, not {fmt} quality '
                f'{quality} (use a new DST)'
            )
        return
    write_json(marker, dict(want, source=osp.abspath(src)))


def _open_destination(plan: Plan, fmt: str, quality: int) -> int:
    """Make and mark the bundle folders, clear what a killed run left,
    copy the files; returns how many were copied (the others were)."""
    for folder, source in plan.folders.items():
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise InputError(f'cannot create {folder}: {err}') from None
        mark(folder, fmt, quality, source)
    folders = set(plan.folders) | {osp.dirname(d) for _, d in plan.copies}
    for folder in sorted(folders):
        if osp.isdir(folder):
            remove_stale_temporaries(folder)  # what a killed run left
    return sum(copy_file(s, d) for s, d in plan.copies)


def _write_failures(dst: str, failures: List[Tuple[str, str]]) -> str:
    """``DST/failures.txt`` listing them (removed when there are none)."""
    failures_file = osp.join(dst, FAILURES)
    if failures:
        atomic_write(
            failures_file,
            ''.join(f'{name}\t{why}\n' for name, why in failures),
        )
    elif osp.exists(failures_file):
        os.remove(failures_file)
    return failures_file


def _summary(dst: str, outcomes: List[Outcome]) -> dict:
    """Counts by status, failures (listed in ``DST/failures.txt``) and
    sizes."""
    failures = sorted((o.name, o.reason) for o in outcomes if o.reason)
    failures_file = _write_failures(dst, failures)
    source = sum(o.source_bytes for o in outcomes)
    prepared = sum(o.prepared_bytes for o in outcomes)
    count = {s: 0 for s in ('converted', 'skipped', 'failed')}
    for o in outcomes:
        count[o.status] += 1
    return dict(
        **count,
        failures=failures,
        failures_file=failures_file if failures else None,
        source_bytes=source,
        prepared_bytes=prepared,
        storage_ratio=round(prepared / source, 3) if source else None,
    )


def run(
    plan: Plan,
    src: str,
    dst: str,
    fmt: str,
    workers: int,
    quality: int,
    progress: Optional[str],
) -> dict:
    """Carry out ``plan`` (``src`` into ``dst``; see the module).

    Args:
        plan (Plan): What to write.
        src (str): The source set (for the log and the summary).
        dst (str): The prepared set (``failures.txt`` goes there).
        fmt (str): A name in :data:`FORMATS`.
        workers (int): Conversion processes (1: this process).
        quality (int): JPEG quality of the frames encoded from videos.
        progress (str, optional): The progress bar's label; None: no bar.

    Returns:
        dict: ``format``, ``src``, ``dst``, counts (``videos``,
        ``frame_folders``, ``converted``, ``skipped``, ``failed``,
        ``copied``), ``failures`` ([(name, reason)]), ``source_bytes`` and
        ``prepared_bytes`` (over the units prepared) and ``storage_ratio``.
    """
    copied = _open_destination(plan, fmt, quality)
    outcomes: List[Outcome] = []
    jobs = []
    for unit in plan.units:
        count = 0 if unit.problem else current_frames(unit)
        if count:
            outcomes.append(measured(unit, 'skipped', count))
        else:
            jobs.append((unit, quality))
    print_log(
        f'prepare {src} -> {dst} ({fmt}): {len(plan.units)} videos, '
        f'{len(plan.units) - len(jobs)} already done, {len(jobs)} to '
        f'convert with {workers} worker(s); {copied} files copied',
        logger='current',
    )
    outcomes += map_jobs(convert, jobs, workers, progress, ordered=False)
    return dict(
        format=fmt,
        src=src,
        dst=dst,
        videos=len(plan.units),
        frame_folders=sum(u.frames for u in plan.units),
        copied=copied,
        **_summary(dst, outcomes),
    )


def summary_line(s: dict, sources: str = 'sources') -> str:
    """The one line a prepare tool ends with; ``sources`` names what the
    storage ratio compares with (e.g. 'the .webm')."""
    line = (
        f'prepared {s["videos"] - s["failed"]}/{s["videos"]} videos in '
        f'{s["dst"]} as {s["format"]} ({s["converted"]} converted, '
        f'{s["skipped"]} already done, {s["failed"]} failed'
    )
    if s['failed']:
        line += f': listed in {s["failures_file"]}'
    line += ')'
    if s['storage_ratio'] is not None:
        line += (
            f'; {s["prepared_bytes"] / 2**30:.2f} GiB, '
            f'{s["storage_ratio"]:.1f}x {sources}'
        )
    return line
