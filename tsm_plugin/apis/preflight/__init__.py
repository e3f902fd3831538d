"""``tools/preflight.py``: the pre-cluster checklist of a config, one command.

Before a multi-day job is queued, check on the login node (or one GPU node)
what would otherwise fail hours in:

1. paths: data root, annotation and label files, the videos folder, the
   work dir (writable);
2. annotations: every split parses, and its labels map onto the model's
   classes (``labels.json`` size == ``cls_head.num_classes``);
3. videos: every video (or ``--sample N``) decodes completely, in parallel
   with a progress bar, under the same rules training applies
   (:func:`~tsm_plugin.datasets.bad_videos.check_video`); the unusable ones
   go to a file. A split whose policy is ``on_bad_video='skip'`` (training)
   only warns: training will replace them; a ``'raise'`` split (validation)
   fails;
4. pretrained weights load (a local file, or ``torchvision://`` reachable);
   the work dir's free space holds the checkpoints the config keeps
   (:mod:`.disk`: ``max_keep_ckpts`` + the best ones + the save in
   progress, each estimated from the model and the optimizer);
5. one batch of the real training pipeline runs one training step as
   training runs it (the optim wrapper's precision, the data preprocessor's
   memory format) on the chosen device and on CPU, with a finite loss and
   finite gradients;
6. a checkpoint (weights, optimizer state, message hub) saves and reloads
   bit-identically through the atomic writer and the safe loader.

Prints a pass/fail table; the exit status is 1 if any check failed.
"""

import argparse
import os
import sys
import traceback
from typing import Callable, List, NamedTuple, Optional

from mmengine.logging import MMLogger

from ...errors import ExitStatus
from .._cli import ArgumentParser, add_cfg_options, run_cli
from .context import Context
from .data import check_annotations, check_paths, check_videos
from .disk import check_disk
from .rows import Row, Skip, Status, one_line
from .training import check_checkpoint, check_model, check_step

__all__ = [
    'CHECKS',
    'Check',
    'Row',
    'Status',
    'build_parser',
    'format_table',
    'main',
    'preflight',
    'run_check',
]


class Check(NamedTuple):
    """A check: its name (the row of its failure) and its function.

    ``fn(ctx)`` returns the check's rows; a ``per_device`` check runs once
    per training-step device as ``fn(ctx, device)``, named
    ``'<name> (<device>)'``.
    """

    name: str
    fn: Callable[..., List[Row]]
    per_device: bool = False


#: The checklist, in order; later checks use what earlier ones built.
CHECKS = (
    Check('paths', check_paths),
    Check('annotations', check_annotations),
    Check('videos', check_videos),
    Check('model', check_model),
    Check('disk', check_disk),
    Check('forward+backward', check_step, per_device=True),
    Check('checkpoint save/reload', check_checkpoint),
)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Check a config, its data and the device before a long '
        'run; exits 1 if any check fails.'
    )
    p.add_argument('config', help='config file')
    p.add_argument(
        '--data-root',
        '--data_dir',
        '--data-dir',
        dest='data_root',
        help='SSv2 folder as downloaded',
    )
    p.add_argument(
        '--sample',
        type=int,
        metavar='N',
        help='decode N random videos instead of all',
    )
    p.add_argument(
        '--workers',
        type=int,
        default=min(8, os.cpu_count() or 1),
        help='decoding processes (default: min(8, CPUs))',
    )
    p.add_argument(
        '--timeout',
        type=float,
        default=60.0,
        help='seconds one video may take to decode',
    )
    p.add_argument(
        '--bad-list',
        metavar='FILE',
        help='where the unusable videos are listed (default: '
        '<work dir>/preflight_bad_videos.txt)',
    )
    p.add_argument(
        '--device',
        default='auto',
        help="device of the training-step check ('auto': what "
        'the Runner picks); CPU is always checked too',
    )
    p.add_argument(
        '--batch-size',
        type=int,
        default=2,
        help='clips in the training-step check',
    )
    p.add_argument('--work-dir', help='default: ./work_dirs/<config name>')
    p.add_argument('--seed', type=int, default=0, help='for --sample')
    add_cfg_options(p)
    return p


def run_check(name: str, fn: Callable[..., List[Row]], *args) -> List[Row]:
    """``fn(*args)``'s rows; a :class:`Skip` is a SKIP row and any other
    exception a FAIL row named ``name`` (its traceback goes to stderr)."""
    try:
        return fn(*args)
    except Skip as skip:
        return [Row(name, Status.SKIP, str(skip))]
    except Exception as err:  # noqa: BLE001 - a row, not a crash
        traceback.print_exc(file=sys.stderr)
        return [Row(name, Status.FAIL, one_line(err))]


def preflight(args: argparse.Namespace) -> List[Row]:
    """Run every check; returns the table rows.

    Raises:
        InputError: a bad config, ``--data-root`` or ``--device`` (the
            only errors that stop the checklist).
    """
    # Warnings and errors only: the table is the report (model init alone
    # logs a line per tensor at INFO).
    MMLogger.get_instance(f'preflight_{os.getpid()}', log_level='WARNING')
    ctx = Context.from_args(args)
    rows = []
    for check in CHECKS:
        if check.per_device:
            for device in ctx.devices:
                rows += run_check(
                    f'{check.name} ({device})', check.fn, ctx, device
                )
        else:
            rows += run_check(check.name, check.fn, ctx)
    return rows


def format_table(rows: List[Row]) -> str:
    width = max(len(r.check) for r in rows)
    lines = [f'{"check":<{width}}  status  detail']
    lines += [
        f'{r.check:<{width}}  {r.status.value:<6}  {r.detail}' for r in rows
    ]
    failed = sum(r.status is Status.FAIL for r in rows)
    warned = sum(r.status is Status.WARN for r in rows)
    lines.append(
        f'preflight: {"FAILED" if failed else "passed"} '
        f'({failed} failed, {warned} warnings)'
    )
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 all passed (warnings allowed), 1 a check failed,
    2 bad arguments."""
    args = build_parser().parse_args(argv)

    def run(a) -> int:
        rows = preflight(a)
        sys.stdout.write(format_table(rows))
        failed = any(r.status is Status.FAIL for r in rows)
        return ExitStatus.ERROR if failed else ExitStatus.OK

    return run_cli(run, args)
