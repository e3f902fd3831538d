"""The flags and the run of the two prepare tools (``prepare_data``,
``prepare_ssv2``): the same options, one summary line, exit status 2 when
an item failed."""

import argparse
import os
from typing import Callable

from ...datasets import frame_bundle
from ...errors import ConfigValueError, ExitStatus
from .._cli import ArgumentParser
from .engine import DEFAULT_FORMAT, FORMATS, summary_line


def build_parser(description: str, src_help: str) -> argparse.ArgumentParser:
    """``SRC DST [--format] [--workers] [--quality] [--no-progress]``."""
    p = ArgumentParser(description=description)
    p.add_argument('src', metavar='SRC', help=src_help)
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
        help='JPEG quality of frames encoded from videos (default: '
        '%(default)s)',
    )
    p.add_argument(
        '--no-progress', action='store_true', help='no progress bar'
    )
    return p


def run(prepare: Callable[..., dict], args, sources: str) -> int:
    """``prepare`` with the parsed flags; prints the summary line (the
    storage ratio against ``sources``); exit status 2 if an item failed."""
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
    print(summary_line(s, sources))
    return int(ExitStatus.INPUT if s['failed'] else ExitStatus.OK)
