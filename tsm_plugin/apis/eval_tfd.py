"""``tools/eval_tfd.py``: one checkpoint at several frame counts (TFD).

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817): the
checkpoint is evaluated with the config's test protocol (ours: 1 clip,
centre crop, centre-of-segment sampling) at each ``--frames`` count, every
frame-count setting changed together. Writes ``tfd.json``, ``tfd.md`` and
``tfd.png`` into ``--out`` and prints the table.
"""

import argparse
import os.path as osp
from typing import List, Optional

from ..engine.checkpoint import existing_checkpoint
from ..evaluation import markdown_table, run_sweep, write_report
from ..utils.config import (
    check_frames,
    load_config,
    set_data_root,
    set_loader_option,
)
from ._cli import ArgumentParser, add_cfg_options, add_data_args, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Evaluate a checkpoint at several frame counts (TFD).'
    )
    p.add_argument(
        'config',
        help='config file the checkpoint was trained '
        'with (its model.backbone.num_segments is the trained '
        'frame count)',
    )
    p.add_argument('checkpoint', help='checkpoint file (.pth)')
    p.add_argument(
        '--frames',
        nargs='+',
        type=int,
        default=[4, 8, 12, 16],
        help='frame counts to evaluate (default: 4 8 12 16)',
    )
    p.add_argument(
        '--out',
        help='output folder for tfd.json/.md/.png '
        '(default: <checkpoint folder>/tfd)',
    )
    add_data_args(p, batch_help='test clips per batch')
    p.add_argument(
        '--separate',
        action='store_true',
        help='one evaluation per frame count (decodes every '
        'video once per frame count; the reference path)',
    )
    add_cfg_options(p)
    return p


def eval_tfd(args: argparse.Namespace):
    """Run the sweep; returns ``(report, paths)`` (see write_report).

    The Runner's log goes to ``--out`` as well.
    """
    cfg = load_config(args.config, args.cfg_options)
    frames = check_frames(args.frames)
    existing_checkpoint(args.checkpoint)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.batch_size is not None:
        set_loader_option(
            cfg,
            'batch_size',
            args.batch_size,
            loaders=('val_dataloader', 'test_dataloader'),
        )
    if args.num_workers is not None:
        set_loader_option(cfg, 'num_workers', args.num_workers)
    out = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint)), 'tfd'
    )
    report = run_sweep(
        cfg,
        args.checkpoint,
        frames,
        decode_once=not args.separate,
        work_dir=out,
    )
    report['config'] = args.config
    return report, write_report(report, out)


def _cli(args: argparse.Namespace) -> None:
    report, paths = eval_tfd(args)
    print(markdown_table(report))
    print(
        f'\nTFD table: {paths["md"]}\nTFD JSON:  {paths["json"]}\n'
        f'TFD plot:  {paths["png"]}'
    )


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(_cli, args)
