"""``tools/make_synthetic_ssv2.py``: a synthetic SSv2 set in the official
layout (see :mod:`tsm_plugin.testing.synthetic_ssv2` for the classes).

Example (the demo's set, a few seconds on 2 cores)::

    python tools/make_synthetic_ssv2.py --out data/synthetic_ssv2
"""

import argparse
from typing import List, Optional

from ..testing.synthetic_ssv2 import make_synthetic_ssv2
from ._cli import ArgumentParser, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Write a synthetic Something-Something V2 set in the '
        'official layout.'
    )
    p.add_argument('--out', required=True, help='root of the set')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=48, help='per class')
    p.add_argument('--num-val', type=int, default=10, help='per class')
    p.add_argument('--num-test', type=int, default=2, help='per class')
    p.add_argument('--height', type=int, default=72, help='SSv2: 240')
    p.add_argument('--width', type=int, default=None, help='default: 4:3')
    p.add_argument('--fps', type=int, default=12)
    p.add_argument('--min-seconds', type=float, default=2.0)
    p.add_argument('--max-seconds', type=float, default=4.0)
    p.add_argument(
        '--textured',
        action='store_true',
        help='rich moving background: real-video decoding cost',
    )
    p.add_argument(
        '--workers',
        type=int,
        default=1,
        help='encoding processes (pays off for large or --textured sets)',
    )
    p.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing set in --out',
    )
    return p


def make(args: argparse.Namespace) -> None:
    """Write the set the flags describe."""
    make_synthetic_ssv2(
        args.out,
        num_train_per_class=args.num_train,
        num_val_per_class=args.num_val,
        num_test_per_class=args.num_test,
        height=args.height,
        width=args.width,
        fps=args.fps,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        seed=args.seed,
        textured=args.textured,
        overwrite=args.overwrite,
        workers=args.workers,
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 written, 2 bad input (one line on stderr)."""
    return run_cli(make, build_parser().parse_args(argv))
