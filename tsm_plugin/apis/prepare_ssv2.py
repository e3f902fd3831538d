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

The conversion runs in parallel (``--workers``) with a progress bar, writes
each output atomically (a kill leaves complete files and temporaries, which
the next run removes), skips outputs already complete, verifies each
output's frame count against the source, lists failures in
``DST/failures.txt`` and ends with a one-line summary. ``DST`` gets a copy
of ``labels/``, so ``--data-root DST`` is all a user changes; the video
folder's ``prepared.json`` tells the readers the format
(:func:`tsm_plugin.datasets.video_io.resolve_path`).
"""

import argparse
import json
import os
import os.path as osp
from typing import List, NamedTuple, Optional, Tuple

from mmengine.logging import print_log

from ..datasets import frame_bundle
from ..datasets.frame_bundle import BundleReader
from ..datasets.video_io import PREPARED_MARKER, VideoReadError, open_video
from ..errors import ConfigValueError, ExitStatus, InputError
from ..utils.atomic import atomic_write, remove_stale_temporaries, write_json
from ..utils.pool import map_jobs
from ._cli import ArgumentParser, run_cli

VIDEO_DIR = '20bn-something-something-v2'
LABEL_DIR = 'labels'
SOURCE_SUFFIX = '.webm'
FAILURES = 'failures.txt'
# name -> (suffix, what it is); 'default' names DEFAULT_FORMAT.
FORMATS = {
    'jpeg': (frame_bundle.SUFFIX, 'one file per video, each frame a JPEG'),
}
DEFAULT_FORMAT = 'jpeg'  # the fastest per core measured (docs/data.md)


class Outcome(NamedTuple):
    """What became of one video."""

    vid: str
    status: str  # 'converted', 'skipped' (already complete) or 'failed'
    reason: str = ''


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


def is_complete(path: str) -> bool:
    """Whether ``path`` is a complete bundle (its index matches its size)."""
    if not osp.isfile(path):
        return False
    try:
        BundleReader(path).close()
    except VideoReadError:
        return False
    return True


def convert_video(src: str, dst: str, quality: int) -> Optional[str]:
    """Write ``src``'s frames as the bundle ``dst``; None, or why not.

    The source is decoded once with PyAV (the frames the dataset's readers
    give); the written file is reopened and its frame count checked against
    the source's. A failed video leaves no file at ``dst``.
    """
    try:
        with open_video(src, 'pyav') as reader:
            count = reader.num_frames
            frames = reader.get_frames(range(count))
        atomic_write(dst, frame_bundle.encode_frames(frames, quality))
        with BundleReader(dst) as out:
            written = out.num_frames
    except (VideoReadError, ValueError, OSError) as err:
        return ' '.join(str(err).split())
    if written != count:
        os.remove(dst)
        return (
            f'frame count mismatch: the source has {count} frames, the '
            f'output {written}'
        )
    return None


def _convert_job(job: Tuple[str, str, str, int]) -> Outcome:
    vid, src, dst, quality = job
    reason = convert_video(src, dst, quality)
    return Outcome(vid, 'failed' if reason else 'converted', reason or '')


def _check_source(src: str) -> str:
    videos = osp.join(src, VIDEO_DIR)
    if not osp.isfile(osp.join(src, LABEL_DIR, 'labels.json')):
        raise InputError(
            f'{src}: no {LABEL_DIR}/labels.json (not an SSv2-format set)'
        )
    if not osp.isdir(videos):
        raise InputError(f'{src}: no {VIDEO_DIR}/ folder of .webm videos')
    return videos


def _mark(dst_videos: str, fmt: str, quality: int, src: str) -> None:
    """Write the format marker, or check that an earlier run's matches."""
    want = dict(format=fmt, suffix=FORMATS[fmt][0], quality=quality)
    marker = osp.join(dst_videos, PREPARED_MARKER)
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


def _copy_labels(src: str, dst: str) -> None:
    for name in sorted(os.listdir(osp.join(src, LABEL_DIR))):
        path = osp.join(src, LABEL_DIR, name)
        if osp.isfile(path):
            with open(path, 'rb') as f:
                atomic_write(osp.join(dst, LABEL_DIR, name), f.read())


def prepared_path(dst: str, vid: str, fmt: str = DEFAULT_FORMAT) -> str:
    """The file ``vid`` becomes in the prepared set ``dst``."""
    return osp.join(dst, VIDEO_DIR, vid + FORMATS[fmt][0])


def _open_destination(src: str, dst: str, fmt: str, quality: int) -> str:
    """Check the arguments, make ``dst``'s video folder, mark its format,
    copy the labels, and clear what a killed run left; returns the source's
    video folder."""
    if not 1 <= quality <= 100:
        raise ConfigValueError(f'quality must be in 1..100, got {quality}')
    src_videos = _check_source(src)
    if osp.abspath(src) == osp.abspath(dst):
        raise InputError(f'DST must differ from SRC ({src})')
    dst_videos = osp.join(dst, VIDEO_DIR)
    try:
        os.makedirs(dst_videos, exist_ok=True)
    except OSError as err:
        raise InputError(f'cannot create {dst_videos}: {err}') from None
    _mark(dst_videos, fmt, quality, src)
    _copy_labels(src, dst)
    remove_stale_temporaries(dst_videos)  # what a killed run left
    return src_videos


def _write_failures(dst: str, failures: List[Tuple[str, str]]) -> str:
    """``DST/failures.txt`` listing them (removed when there are none)."""
    failures_file = osp.join(dst, FAILURES)
    if failures:
        atomic_write(
            failures_file,
            ''.join(f'{vid}{SOURCE_SUFFIX}\t{why}\n' for vid, why in failures),
        )
    elif osp.exists(failures_file):
        os.remove(failures_file)
    return failures_file


def _summary(
    src_videos: str, dst: str, fmt: str, outcomes: List[Outcome]
) -> dict:
    """Counts by status, failures (listed in ``DST/failures.txt``) and
    sizes."""
    failures = sorted((o.vid, o.reason) for o in outcomes if o.reason)
    failures_file = _write_failures(dst, failures)
    webm_bytes = prepared_bytes = 0
    for o in outcomes:
        if o.status != 'failed':
            webm_bytes += osp.getsize(
                osp.join(src_videos, o.vid + SOURCE_SUFFIX)
            )
            prepared_bytes += osp.getsize(prepared_path(dst, o.vid, fmt))
    count = {s: 0 for s in ('converted', 'skipped', 'failed')}
    for o in outcomes:
        count[o.status] += 1
    return dict(
        **count,
        failures=failures,
        failures_file=failures_file if failures else None,
        webm_bytes=webm_bytes,
        prepared_bytes=prepared_bytes,
        storage_ratio=round(prepared_bytes / webm_bytes, 3)
        if webm_bytes
        else None,
    )


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
        dict: counts (``videos``, ``converted``, ``skipped``, ``failed``),
        ``failures`` ([(id, reason)]), ``webm_bytes`` and ``prepared_bytes``
        (over the videos prepared), ``storage_ratio`` and ``format``.

    Raises:
        InputError: ``src`` is not an SSv2-format set, ``dst`` is ``src`` or
            was prepared with other settings.
    """
    fmt = resolve_format(fmt)
    src_videos = _open_destination(src, dst, fmt, quality)
    ids = sorted(
        name[: -len(SOURCE_SUFFIX)]
        for name in os.listdir(src_videos)
        if name.endswith(SOURCE_SUFFIX)
    )
    outcomes: List[Outcome] = []
    jobs = []
    for vid in ids:
        out = prepared_path(dst, vid, fmt)
        if is_complete(out):
            outcomes.append(Outcome(vid, 'skipped'))
        else:
            src_path = osp.join(src_videos, vid + SOURCE_SUFFIX)
            jobs.append((vid, src_path, out, quality))
    print_log(
        f'prepare {src} -> {dst} ({fmt}): {len(ids)} videos, '
        f'{len(ids) - len(jobs)} already done, {len(jobs)} to convert with '
        f'{workers} worker(s)',
        logger='current',
    )
    outcomes += map_jobs(
        _convert_job,
        jobs,
        workers,
        'prepare SSv2' if progress else None,
        ordered=False,
    )
    summary = _summary(src_videos, dst, fmt, outcomes)
    return dict(format=fmt, src=src, dst=dst, videos=len(ids), **summary)


def summary_line(s: dict) -> str:
    """The one line the tool ends with."""
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
            f'{s["storage_ratio"]:.1f}x the .webm'
        )
    return line


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Convert an SSv2-format set (labels/ and '
        f'{VIDEO_DIR}/<id>.webm) into a format that decodes fast; train '
        'on it with --data-root DST.'
    )
    p.add_argument('src', metavar='SRC', help='the set as downloaded')
    p.add_argument(
        'dst', metavar='DST', help='the prepared set (resumed if present)'
    )
    p.add_argument(
        '--format',
        default='default',
        help=f'default ({DEFAULT_FORMAT}) or one of: '
        + '; '.join(f'{k}: {v[1]}' for k, v in FORMATS.items()),
    )
    p.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help='conversion processes (default: CPU count)',
    )
    p.add_argument(
        '--quality',
        type=int,
        default=frame_bundle.DEFAULT_QUALITY,
        help='JPEG quality (default: %(default)s)',
    )
    p.add_argument(
        '--no-progress', action='store_true', help='no progress bar'
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Prepare, print the summary; exit status 2 if a video failed."""
    if args.workers < 1:
        raise ConfigValueError(f'--workers must be >= 1, got {args.workers}')
    s = prepare(
        args.src,
        args.dst,
        args.format,
        workers=args.workers,
        quality=args.quality,
        progress=not args.no_progress,
    )
    print(summary_line(s))
    return int(ExitStatus.INPUT if s['failed'] else ExitStatus.OK)


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 all prepared, 2 bad input or a video failed (listed
    in DST/failures.txt)."""
    return run_cli(run, build_parser().parse_args(argv))
