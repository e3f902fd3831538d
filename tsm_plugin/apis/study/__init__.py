"""``tools/study.py STUDY.py``: the FFN paper's tables from one command.

The FFN paper (https://arxiv.org/abs/2303.14817, Tab. 1-5, Fig. 8)
compares many trained models at several frame counts. A study file
(:mod:`.spec`) names the rows; this command

1. trains what is missing, in dependency order, each row in
   ``<work_dir>/<row>/``, resumable, or sends it to SLURM
   (:mod:`.training`, :mod:`.slurm`);
2. evaluates every row at every frame count under one test protocol, each
   video decoded once for all rows and counts, cached per row
   (:mod:`.evaluation`);
3. writes ``study.md``, ``study.csv``, ``study.json`` (:mod:`.results`),
   ``study.png`` and TensorBoard scalars (:mod:`.figures`) into the
   output folder, with each row's parameters and training cost
   (:mod:`.cost`), and prints the table.

Exit statuses: 0 done (or jobs sent to SLURM), 1 a row's training failed,
2 bad input (the study file, a changed row), 3 interrupted (rerun
resumes).
"""

import argparse
import os
import os.path as osp
from typing import Callable, List, Optional

from ...errors import ConfigValueError
from ...utils.device import describe_device
from .._cli import ArgumentParser, add_cfg_options, run_cli
from .cost import Costs
from .evaluation import checkpoints_of, evaluate
from .figures import plot_study, write_tensorboard
from .results import build_table, markdown, write_tables
from .slurm import report, submit_missing
from .spec import Study, load_study, retrain_rows
from .training import Training, train_missing

__all__ = ['build_parser', 'main', 'run_study']


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Train what a study file lists, evaluate every row at '
        'every frame count, and write the table.'
    )
    p.add_argument('study', help='study file, e.g. configs/studies/*.py')
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        '--train-only',
        action='store_true',
        help='train what is missing, then stop',
    )
    mode.add_argument(
        '--eval-only',
        action='store_true',
        help='train nothing: the table from the rows trained so far',
    )
    p.add_argument(
        '--slurm',
        metavar='PARTITION',
        help='send each missing row to tools/slurm_train.sh (GPUS etc. '
        'from the environment) instead of training here, then exit; rerun '
        'the same command when the jobs end',
    )
    p.add_argument('--rows', nargs='+', metavar='NAME', help='only these rows')
    p.add_argument(
        '--retrain',
        nargs='+',
        metavar='NAME',
        help='train these rows again from scratch (their folders are set '
        'aside as <folder>.old-<time>)',
    )
    p.add_argument(
        '--data-root',
        '--data_root',
        dest='data_root',
        help="every row's SSv2 folder (default: the study's data_root, "
        "else each config's)",
    )
    p.add_argument(
        '--frames',
        nargs='+',
        type=int,
        help="frame counts to evaluate (default: the study's frames)",
    )
    p.add_argument(
        '--out',
        help="output folder (default: the study's out_dir, else its work_dir)",
    )
    add_cfg_options(
        p,
        'override keys of the study file, e.g. work_dir=DIR or '
        'eval_options.test_dataloader.batch_size=16',
    )
    return p


def _train(
    study: Study, args, training: Training, say: Callable
) -> Optional[int]:
    """Train or submit what is missing; the exit status, or None to go on
    to the evaluation."""
    for name in retrain_rows(study, args.retrain):
        aside = training.retrain(name)
        if aside:
            say(f'{name}: its previous training is now in {aside}')
    rerun = 'the same command' + (' without --retrain' if args.retrain else '')
    if args.slurm:
        out = submit_missing(training, args.slurm, say)
        if any(out.values()):
            report(out, rerun, say)
            return 0
        return None
    status = train_missing(training, say)
    if status and args.retrain:
        say(f'(to resume, run {rerun})')
    return status or None


def _footer_facts(table: dict, evaluated: dict, not_trained: List[str]):
    """Protocol, videos and device for the footer."""
    entry = next(iter(evaluated.values()), {})
    first = next(iter(entry.get('results', {}).values()), {})
    table.update(
        protocol=entry.get('protocol'),
        precision=entry.get('precision'),
        videos=first.get('num_videos'),
        device=describe_device(),
        not_trained=not_trained,
    )


def run_study(args: argparse.Namespace, say: Callable = print) -> int:
    """The command's body (see the module docstring); the exit status."""
    if args.eval_only and (args.retrain or args.slurm):
        raise ConfigValueError(
            '--eval-only trains nothing: drop --retrain/--slurm'
        )
    study = load_study(
        args.study,
        cfg_options=args.cfg_options,
        frames=args.frames,
        data_root=args.data_root,
        out=args.out,
        rows=args.rows,
    )
    training = Training(study)
    if args.eval_only:
        for name in training.order():
            training.check_unchanged(name)
    else:
        status = _train(study, args, training, say)
        if status is not None:
            return status
    if args.train_only:
        say('every row is trained')
        return 0
    finished = checkpoints_of(study, training.finished)
    evaluated = evaluate(study, finished, say)
    seconds = {
        n: (training.record(n) or {}).get('seconds') for n in training.order()
    }
    table = build_table(
        study,
        evaluated,
        Costs(study, finished),
        {n: s for n, s in seconds.items() if s is not None},
    )
    not_trained = [n for n in training.order() if n not in finished]
    _footer_facts(table, evaluated, not_trained)
    os.makedirs(study.out_dir, exist_ok=True)
    paths = write_tables(table, study.out_dir)
    paths['png'] = plot_study(table, osp.join(study.out_dir, 'study.png'))
    paths['tensorboard'] = write_tensorboard(
        table, osp.join(study.out_dir, 'tensorboard')
    )
    say('\n' + markdown(table) + '\n')
    for key in ('md', 'csv', 'json', 'png', 'tensorboard'):
        say(f'{key:>11}: {paths[key]}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(run_study, args)
