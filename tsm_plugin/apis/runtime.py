"""What every CLI shares: the device line and one-line user errors."""
import sys

from ..errors import InputError


def describe_device() -> str:
    """The device the Runner picks with no config: CUDA, else MPS, else CPU."""
    import torch
    from mmengine.device import get_device
    device = get_device()
    if device == 'cuda':
        n = torch.cuda.device_count()
        return f'cuda ({torch.cuda.get_device_name()} x{n})'
    if device == 'cpu':
        return f'cpu ({torch.get_num_threads()} threads)'
    return device


def log_device(runner) -> None:
    """Log the chosen device once at start (rank 0 writes the log)."""
    runner.logger.info(f'Device: {describe_device()}')


def add_data_args(parser, batch_help: str) -> None:
    """The data flags every tool shares, with the original plan's spellings."""
    parser.add_argument('--data-root', '--data_dir', '--data-dir',
                        dest='data_root',
                        help='SSv2 folder as downloaded (holds labels/ and '
                        '20bn-something-something-v2/)')
    parser.add_argument('--batch-size', '--batch_size', dest='batch_size',
                        type=int, help=batch_help)
    parser.add_argument('--num-workers', '--num_workers', dest='num_workers',
                        type=int, help='dataloader (decoding) workers per '
                        'process')


def add_launch_args(parser, cfg_options_help: str) -> None:
    """``--cfg-options`` and the launcher flags of mmaction2's tools."""
    import argparse

    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=cfg_options_help)
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def set_work_dir(cfg, work_dir, config_path: str) -> None:
    """``--work-dir``, else the config's, else ./work_dirs/<config name>."""
    import os.path as osp
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(config_path))[0])


def run_cli(fn, args) -> int:
    """Run ``fn(args)``; a user error prints one line and exits with 2."""
    try:
        fn(args)
    except InputError as e:
        sys.stderr.write(f'error: {e}\n')
        return 2
    return 0
