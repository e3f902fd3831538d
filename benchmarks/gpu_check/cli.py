"""``python -m benchmarks.gpu_check``: the flags ``tools/gpu_check.sh``
passes on, and the exit status."""

import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

from tsm_plugin.apis._cli import ArgumentParser, run_cli

from ..gpu_report import FAILED, TIMED_OUT, format_markdown
from .budget import MIN_SECONDS
from .check import GpuCheck


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog='gpu_check',
        description='The GPU figures in one run (tools/gpu_check.sh).',
    )
    p.add_argument('--out', required=True, help='gpu_check.json/.md go here')
    p.add_argument(
        '--work',
        default=None,
        help='videos and training work dir (default: OUT/../gpu_check_work '
        'under the temp dir)',
    )
    p.add_argument(
        '--dry-run', action='store_true', help='tiny sizes (CPU, seconds)'
    )
    p.add_argument('--device', default='auto', help='auto, cuda, cuda:1, cpu')
    p.add_argument(
        '--budget',
        type=float,
        default=None,
        help='seconds for all sections (default: 480; dry run 240)',
    )
    p.add_argument(
        '--only',
        nargs='+',
        choices=list(MIN_SECONDS),
        help='run these sections alone',
    )
    return p


def run(args: argparse.Namespace) -> dict:
    """Run the check; print its Markdown report; return the report."""
    import tempfile

    work = args.work or osp.join(tempfile.gettempdir(), 'tsm_gpu_check')
    check = GpuCheck(
        args.out,
        work,
        dry_run=args.dry_run,
        device=args.device,
        budget_s=args.budget,
        only=args.only,
    )
    report = check.run()
    sys.stdout.write(format_markdown(report))
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status 0 when every section ran or was not available, else 1
    (the files are written either way); 2 for a bad flag."""
    args = build_parser().parse_args(argv)
    status = run_cli(run, args)
    if status != 0:
        return status
    with open(osp.join(args.out, 'gpu_check.json')) as f:
        sections = json.load(f)['sections'].values()
    bad = [s for s in sections if s['status'] in (FAILED, TIMED_OUT)]
    return 1 if bad else 0
