"""``tools/test.py``: evaluate a checkpoint (top-1 / top-5) with the Runner."""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction

from ..errors import InputError
from .config import load_config, set_data_root, set_loader_option
from .runtime import log_device, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description='Evaluate a TSM checkpoint (1 clip, centre crop).')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file (.pth)')
    p.add_argument('--work-dir', help='where the test log goes '
                   '(default: ./work_dirs/<config name>)')
    p.add_argument('--data-root', '--data_dir', '--data-dir',
                   dest='data_root', help='SSv2 folder as downloaded')
    p.add_argument('--batch-size', '--batch_size', dest='batch_size',
                   type=int, help='test clips per GPU (process)')
    p.add_argument('--num-workers', '--num_workers', dest='num_workers',
                   type=int, help='dataloader workers per process')
    p.add_argument('--dump', metavar='FILE.pkl',
                   help='also dump the predictions to this pickle file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher')
    p.add_argument('--local-rank', '--local_rank', type=int, default=0,
                   help=argparse.SUPPRESS)
    return p


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line flags to the config."""
    if not osp.isfile(args.checkpoint):
        raise InputError(f'checkpoint not found: {args.checkpoint}')
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.batch_size is not None:
        set_loader_option(cfg, 'batch_size', args.batch_size,
                          loaders=('test_dataloader', ))
    if args.num_workers is not None:
        set_loader_option(cfg, 'num_workers', args.num_workers)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.dump:
        dump = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = (list(evaluator) if isinstance(
            evaluator, (list, tuple)) else [evaluator]) + [dump]
    return cfg


def test(args: argparse.Namespace) -> dict:
    """Build the Runner and evaluate; returns the metrics dict."""
    from mmengine.runner import Runner
    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    runner = Runner.from_cfg(cfg)
    log_device(runner)
    return runner.test()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(test, args)


if __name__ == '__main__':
    sys.exit(main())
