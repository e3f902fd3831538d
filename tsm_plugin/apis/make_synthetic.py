"""``tools/make_synthetic.py``: a synthetic set in a dataset's official
layout, for the tests, the demos and a first run of a new config.

The same eight temporal classes (:mod:`tsm_plugin.testing.synthetic_ssv2`)
in each layout the readers take as downloaded:

* ``ssv2``: ``labels/*.json`` and VP9 ``.webm``
  (:func:`~tsm_plugin.testing.synthetic_ssv2.make_synthetic_ssv2`);
* ``sthv1``: ``;`` CSVs and JPEG frame folders
  (:func:`~tsm_plugin.testing.synthetic_sthv1.make_synthetic_sthv1`);
* ``k400``: ``annotations/*.csv`` and H.264 ``.mp4``, flat or in class
  folders, with missing and broken videos on request
  (:func:`~tsm_plugin.testing.synthetic_videos.make_synthetic_k400`);
* ``hmdb51``: MPEG-4 ``.avi`` class folders and the three split files
  (:func:`~tsm_plugin.testing.synthetic_videos.make_synthetic_hmdb51`).

Examples (a few seconds on 2 cores each)::

    python tools/make_synthetic.py sthv1 --out data/synthetic_sthv1
    python tools/make_synthetic.py k400 --out data/synthetic_k400 \\
        --k400-layout class_folders --missing 3 --broken 1

``tools/make_synthetic_ssv2.py --out DIR`` is ``make_synthetic.py ssv2``.
"""

import argparse
from typing import List, Optional

from ..testing.synthetic_ssv2 import make_synthetic_ssv2
from ..testing.synthetic_sthv1 import make_synthetic_sthv1
from ..testing.synthetic_videos import (
    make_synthetic_hmdb51,
    make_synthetic_k400,
)
from ._cli import ArgumentParser, run_cli

MAKERS = {
    'ssv2': make_synthetic_ssv2,
    'sthv1': make_synthetic_sthv1,
    'k400': make_synthetic_k400,
    'hmdb51': make_synthetic_hmdb51,
}
# flag dest -> generator keyword; a flag left out keeps the generator's
# default (each layout has its own: SSv1 frames are 100 px high...).
KEYWORDS = dict(
    num_train='num_train_per_class',
    num_val='num_val_per_class',
    num_test='num_test_per_class',
    videos_per_class='videos_per_class',
    height='height',
    width='width',
    fps='fps',
    min_seconds='min_seconds',
    max_seconds='max_seconds',
    textured='textured',
    extra_classes='extra_classes',
    k400_layout='layout',
    missing='missing',
    broken='broken',
)
# What each layout takes besides the common size, rate and seed flags.
ONLY = {
    'num_train': ('ssv2', 'sthv1', 'k400'),
    'num_val': ('ssv2', 'sthv1', 'k400'),
    'num_test': ('ssv2', 'sthv1', 'k400'),
    'videos_per_class': ('hmdb51',),
    'textured': ('ssv2', 'sthv1'),
    'extra_classes': ('sthv1',),
    'k400_layout': ('k400',),
    'missing': ('k400', 'hmdb51'),
    'broken': ('k400',),
}


def build_parser(layout: Optional[str] = None) -> argparse.ArgumentParser:
    """The flags; ``layout`` fixes the layout (``make_synthetic_ssv2.py``)."""
    p = ArgumentParser(
        description="Write a synthetic set in a dataset's official layout "
        '(8 temporal classes).'
    )
    if layout is None:
        p.add_argument('layout', choices=sorted(MAKERS))
    else:
        p.set_defaults(layout=layout)
    p.add_argument('--out', required=True, help='root of the set')
    p.add_argument('--seed', type=int, default=0)
    for name in ('num_train', 'num_val', 'num_test'):
        p.add_argument(
            f'--{name.replace("_", "-")}', type=int, help='per class'
        )
    p.add_argument('--videos-per-class', type=int, help='hmdb51')
    p.add_argument('--height', type=int)
    p.add_argument('--width', type=int, help='default: 4:3')
    p.add_argument('--fps', type=int)
    p.add_argument('--min-seconds', type=float)
    p.add_argument('--max-seconds', type=float)
    p.add_argument(
        '--textured',
        action='store_true',
        default=None,
        help='rich moving background: real-video decoding cost',
    )
    p.add_argument(
        '--extra-classes', type=int, help='sthv1: label names with no video'
    )
    p.add_argument('--k400-layout', choices=('flat', 'class_folders'))
    p.add_argument('--missing', type=int, help='videos listed but not written')
    p.add_argument('--broken', type=int, help='k400: unreadable videos')
    p.add_argument(
        '--workers',
        type=int,
        default=1,
        help='encoding processes (pays off for large or --textured sets)',
    )
    p.add_argument(
        '--overwrite', action='store_true', help='replace a set in --out'
    )
    return p


def make(args: argparse.Namespace) -> dict:
    """Write the set the flags describe; returns the generator's summary.

    Raises:
        ConfigValueError: a flag the layout does not take.
    """
    from ..errors import ConfigValueError

    kwargs = {}
    for dest, keyword in KEYWORDS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if args.layout not in ONLY.get(dest, MAKERS):
            raise ConfigValueError(
                f'--{dest.replace("_", "-")} does not apply to the '
                f'{args.layout} layout (only to {", ".join(ONLY[dest])})'
            )
        kwargs[keyword] = value
    return MAKERS[args.layout](
        args.out,
        seed=args.seed,
        overwrite=args.overwrite,
        workers=args.workers,
        **kwargs,
    )


def main(
    argv: Optional[List[str]] = None, layout: Optional[str] = None
) -> int:
    """Exit status: 0 written, 2 bad input (one line on stderr)."""
    return run_cli(make, build_parser(layout).parse_args(argv))
