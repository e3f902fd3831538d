"""``tools/benchmark.py MODE``: one subcommand per mode, one report each.

The report is printed and, with ``--json PATH``, written atomically. Exit
status 0; 2 for a user error (a flag's value, a missing file), printed as
one line.
"""

import argparse
import sys
from typing import List, Optional

from tsm_plugin.apis._cli import ArgumentParser, run_cli

from . import data_pipeline, ffn_step, model_step, tfd_sweep
from ._timing import log, write_json

MODES = (model_step, ffn_step, data_pipeline, tfd_sweep)


def build_parser() -> argparse.ArgumentParser:
    """The parser: each mode module adds its subcommand."""
    parser = ArgumentParser(
        description='Benchmark ours against mmaction2 (same inputs, one run).'
    )
    add_modes(parser)
    return parser


def add_modes(parser: argparse.ArgumentParser):
    """One subcommand per mode; returns argparse's subparsers action (its
    ``choices``: mode name -> the mode's parser)."""
    sub = parser.add_subparsers(dest='mode', required=True)
    for mode in MODES:
        mode.add_parser(sub)
    return sub


def mode_names() -> List[str]:
    """The modes, in order: ``model``, ``ffn``, ``data``, ``tfd``."""
    return list(add_modes(argparse.ArgumentParser()).choices)


def run(args: argparse.Namespace) -> dict:
    """Run ``args``' mode; print and optionally save the report."""
    report = args.func(args)
    sys.stdout.write(args.format(report) + '\n')
    if args.json:
        write_json(args.json, report)
        log(f'wrote {args.json}')
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv`` and run; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_cli(run, args)
