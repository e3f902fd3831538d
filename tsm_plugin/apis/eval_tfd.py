"""``tools/eval_tfd.py``: one checkpoint at several frame counts (TFD).

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817): the
checkpoint is evaluated under a test protocol (``--protocol``, else the
config's ``test_protocol``, else ``efficient``: the config's own 1 clip,
centre crop, centre-of-segment sampling; ``accurate``: the TSM repo's 2 clips
x 3 full-res crops; ``zoo``: mmaction2's twice-sample x ThreeCrop) at each
``--frames`` count, every frame-count setting changed together, each video
decoded once for all counts and views. Writes ``tfd.json``, ``tfd.md`` and
``tfd.png`` into ``--out`` and prints the table. ``--compare CONFIG CKPT
[CONFIG CKPT ...]`` evaluates other models the same way and puts them side
by side: one table with a column per model (``compare.md``, ``.json``) and
one plot with a curve per model (``compare.png``).
"""

import argparse
import os.path as osp
from typing import List, Optional, Sequence

from ..datasets.test_protocols import PROTOCOLS
from ..engine.checkpoint import existing_checkpoint
from ..engine.hooks.eval_autocast_hook import set_eval_precision
from ..engine.precision import PRECISIONS
from ..errors import ConfigValueError
from ..evaluation import (
    compare_table,
    run_sweep,
    write_comparison,
    write_report,
)
from ..evaluation.report import report_markdown
from ..utils.config import check_frame_counts, load_config, set_data_root
from ._cli import (
    ArgumentParser,
    add_cfg_options,
    add_data_args,
    run_cli,
    set_loader_args,
)


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
    p.add_argument(
        'checkpoint',
        help="checkpoint file (.pth); 'none' for a model that loads its own "
        '(an ensemble config: configs/baselines/tsm_r50_ensemble_ssv2.py)',
    )
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
        '(default: <checkpoint folder>/tfd; with none, '
        'work_dirs/<config name>/tfd)',
    )
    add_data_args(p, batch_help='test clips per batch')
    p.add_argument(
        '--separate',
        action='store_true',
        help='one evaluation per frame count (decodes every '
        'video once per frame count; the reference path)',
    )
    p.add_argument(
        '--protocol',
        choices=PROTOCOLS,
        help="test protocol of every model (default: each config's "
        'test_protocol, else efficient); see tools/test.py --help',
    )
    p.add_argument(
        '--compare',
        nargs='+',
        metavar='CONFIG CKPT',
        help='other models to put beside this one: config and checkpoint '
        'pairs, evaluated with the same frames and data',
    )
    p.add_argument(
        '--precision',
        choices=PRECISIONS,
        default='fp32',
        help='evaluation precision (default fp32: the same numbers on every '
        'machine); the report names it',
    )
    add_cfg_options(p)
    return p


def _models(args: argparse.Namespace) -> List[tuple]:
    """(config, checkpoint) of the model and of each ``--compare`` pair."""
    pairs = [(args.config, args.checkpoint)]
    extra = args.compare or []
    if len(extra) % 2:
        raise ConfigValueError(
            '--compare takes CONFIG CKPT pairs, got an odd number of '
            f'values: {extra}'
        )
    pairs += list(zip(extra[::2], extra[1::2]))
    # 'none': the config's model loads its own weights (an ensemble)
    pairs = [(c, None if k.lower() == 'none' else k) for c, k in pairs]
    for _, checkpoint in pairs:
        if checkpoint is not None:
            existing_checkpoint(checkpoint)
    return pairs


def _sweep(
    args: argparse.Namespace,
    frames: Sequence[int],
    config: str,
    checkpoint: str,
    out: str,
) -> dict:
    """One model's sweep at ``frames`` under the flags' data settings."""
    cfg = load_config(config, args.cfg_options)
    set_eval_precision(cfg, args.precision)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    set_loader_args(cfg, args, ('val_dataloader', 'test_dataloader'))
    report = run_sweep(
        cfg,
        checkpoint,
        frames,
        decode_once=not args.separate,
        work_dir=out,
        protocol=args.protocol,
    )
    report['config'] = config
    return report


def _stem(config: str) -> str:
    """``configs/x/name.py`` (or ``pkg::x/name.py``) -> ``name``."""
    return osp.splitext(osp.basename(config.split('::')[-1]))[0]


def eval_tfd(args: argparse.Namespace):
    """Run the sweep(s); returns ``(reports, paths)``.

    ``reports`` holds the model's report, then each ``--compare`` model's.
    The files of the first model (:func:`write_report`) and, with
    ``--compare``, the side-by-side ones (:func:`write_comparison`) go to
    ``--out``; so does the Runner's log.
    """
    frames = check_frame_counts(args.frames, '--frames', dedupe=True)
    pairs = _models(args)
    checkpoint = pairs[0][1]
    out = args.out or (
        osp.join(osp.dirname(osp.abspath(checkpoint)), 'tfd')
        if checkpoint
        else osp.join('work_dirs', _stem(args.config), 'tfd')
    )
    reports = [
        _sweep(args, frames, config, checkpoint, out)
        for config, checkpoint in pairs
    ]
    paths = write_report(reports[0], out)
    if len(reports) > 1:
        paths.update(write_comparison(reports, out))
    return reports, paths


def _cli(args: argparse.Namespace) -> None:
    reports, paths = eval_tfd(args)
    print(report_markdown(reports[0]))  # tfd.md: table, classes
    print(
        f'\nTFD table: {paths["md"]}\nTFD JSON:  {paths["json"]}\n'
        f'TFD plot:  {paths["png"]}'
    )
    if len(reports) > 1:
        print('\n' + compare_table(reports))
        print(
            f'\nComparison: {paths["compare_md"]}\n'
            f'Comparison plot: {paths["compare_png"]}'
        )


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(_cli, args)
