"""Flags every mode shares and the validators of their values.

A bad value is an argparse error naming the flag (usage, then one line,
exit status 2).
"""

import argparse
from typing import Callable


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected an integer, got {text!r}'
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f'must be >= {low}, got {value}')
        return value

    parse.__name__ = f'int >= {low}'
    return parse


non_negative = int_at_least(0)
positive = int_at_least(1)


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json PATH``: the report saved as JSON too."""
    parser.add_argument(
        '--json', metavar='PATH', help='also write the report as JSON'
    )


def add_timing(
    parser: argparse.ArgumentParser, warmup: int, iters: int
) -> None:
    """``--warmup`` and ``--iters`` with a mode's defaults."""
    parser.add_argument(
        '--warmup',
        type=non_negative,
        default=warmup,
        help=f'untimed iterations first (default: {warmup})',
    )
    parser.add_argument(
        '--iters',
        type=positive,
        default=iters,
        help=f'timed iterations, median reported (default: {iters})',
    )


def add_videos(parser: argparse.ArgumentParser, cache: str) -> None:
    """Where the videos come from: ``--cache`` and ``--data-root``."""
    parser.add_argument(
        '--cache',
        default=cache,
        help='where the synthetic videos are written (once)',
    )
    parser.add_argument(
        '--data-root',
        help='an SSv2-format set to read '
        'instead of the SSv2-sized synthetic one',
    )


def add_video_set(parser: argparse.ArgumentParser) -> None:
    """``--videos``: which synthetic set (benchmarks._videos.VIDEO_SETS)."""
    parser.add_argument(
        '--videos',
        choices=['ssv2', 'k400'],
        default='ssv2',
        help='the synthetic set written under --cache (or the suffix of '
        'the --data-root videos): ssv2 (240x426, 12 fps, 2-6 s, VP9 .webm; '
        'default) or k400 (256x340, 30 fps, 10 s, H.264 .mp4)',
    )


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format F``: a prepared format timed against its source videos
    (``args.storage_format``; ``args.format`` is the report's formatter)."""
    parser.add_argument(
        '--format',
        dest='storage_format',
        metavar='F',
        help="a tools/prepare_data.py format, or 'default' (its default), "
        'timed against the videos it is prepared from',
    )


def add_step_flags(parser: argparse.ArgumentParser, of: str) -> None:
    """The flags of a training-step mode: ``--device``, ``--amp``,
    ``--channels-last``, ``--batch`` and ``--glibc-default-malloc``.

    Args:
        parser: The mode's parser.
        of (str): Whose precision and memory format ``--amp`` and
            ``--channels-last`` set, for the help ('ours', 'both').
    """
    parser.add_argument(
        '--device',
        default='auto',
        help='auto, cpu, cuda, cuda:1, mps (default: cuda, then '
        'mps, then cpu)',
    )
    parser.add_argument(
        '--amp',
        choices=['none', 'bf16', 'fp16'],
        default=None,
        help=f"the precision of {of} (default: the recipe's, 'auto' = "
        'bf16 where the hardware is fast at it)',
    )
    parser.add_argument(
        '--channels-last',
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"the memory format of {of} (default: the recipe's, 'auto' "
        '= where bf16 is fast)',
    )
    parser.add_argument(
        '--batch',
        type=positive,
        default=None,
        help="clips per step (default: 1 on CPU, the recipe's batch on a GPU)",
    )
    parser.add_argument(
        '--glibc-default-malloc',
        action='store_true',
        help="on a CPU, keep glibc's default malloc instead of the heap "
        'reuse training runs set (HeapReuseHook)',
    )
