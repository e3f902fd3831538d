"""What every CLI body shares: flags, the work dir, one-line user errors.

The tools' exit statuses are :class:`~tsm_plugin.errors.ExitStatus`; a user
error (:class:`~tsm_plugin.errors.InputError`) and a refused write
(:class:`~tsm_plugin.errors.WriteError`: no space, a quota, permission) are
printed as one line.
"""

import argparse
import errno
import os
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

from mmengine.config import DictAction

from ..errors import ExitStatus, InputError, WriteError
from ..utils.config import set_loader_option
from ..utils.device import describe_device


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (``error: ...``) and exit 2,
    like every other user error of the tools (no usage block)."""

    def error(self, message: str):
        self.exit(int(ExitStatus.INPUT), f'error: {self.prog}: {message}\n')


def log_device(runner) -> None:
    """Log the chosen device once at start (rank 0 writes the log)."""
    runner.logger.info(f'Device: {describe_device()}')


def add_data_args(
    parser: argparse.ArgumentParser, batch_help: str, batch: bool = True
) -> None:
    """The data flags every tool shares (underscore spellings accepted)."""
    parser.add_argument(
        '--data-root',
        '--data_dir',
        '--data-dir',
        dest='data_root',
        help='the dataset folder as downloaded (SSv2: holds labels/ and '
        '20bn-something-something-v2/), or its prepared copy',
    )
    if batch:
        parser.add_argument(
            '--batch-size',
            '--batch_size',
            dest='batch_size',
            type=int,
            help=batch_help,
        )
    parser.add_argument(
        '--num-workers',
        '--num_workers',
        dest='num_workers',
        type=int,
        help='dataloader (decoding) workers per process',
    )


def set_loader_args(
    cfg, args: argparse.Namespace, batch_loaders: Sequence[str]
) -> None:
    """Apply :func:`add_data_args`' loader flags: ``--batch-size`` to the
    dataloaders named in ``batch_loaders``, ``--num-workers`` to all."""
    if args.batch_size is not None:
        set_loader_option(
            cfg, 'batch_size', args.batch_size, loaders=batch_loaders
        )
    if args.num_workers is not None:
        set_loader_option(cfg, 'num_workers', args.num_workers)


def add_cfg_options(
    parser: argparse.ArgumentParser, help: str = 'override config keys'
) -> None:
    """mmaction2's ``--cfg-options KEY=VALUE ...``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help=help
    )


def add_launch_args(
    parser: argparse.ArgumentParser, cfg_options_help: str
) -> None:
    """``--cfg-options`` and the launcher flags of mmaction2's tools."""
    add_cfg_options(parser, cfg_options_help)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument(
        '--local-rank',
        '--local_rank',
        type=int,
        default=0,
        help=argparse.SUPPRESS,
    )


def resolve_work_dir(cfg, work_dir: Optional[str], config_path: str) -> str:
    """``--work-dir``, else the config's, else ./work_dirs/<config name>."""
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def set_work_dir(cfg, work_dir: Optional[str], config_path: str) -> None:
    """Set ``cfg.work_dir`` by :func:`resolve_work_dir`'s rule."""
    cfg.work_dir = resolve_work_dir(cfg, work_dir, config_path)


#: errnos that only a write raises: mmengine's own writes (logs, scalars)
#: failing with them are a full disk too. (EACCES may be a read.)
_FULL = {errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC), errno.EROFS}


def as_write_error(err: OSError) -> Optional[WriteError]:
    """``err`` as a one-line WriteError, or None if it is not a refused
    write: a WriteError of our writers, or an ``OSError`` of a full or
    read-only disk from another writer (mmengine's logs and scalars), named
    with the last complete checkpoint of the run's work dir."""
    if isinstance(err, WriteError):
        return err
    if err.errno not in _FULL:
        return None
    from mmengine.logging import MessageHub

    from ..engine.checkpoint import last_complete_checkpoint_near
    from ..utils.disk_space import write_error

    path = str(err.filename) if err.filename else None
    converted = write_error(err, path)
    # Near the file, else near the run's last save (the message hub's).
    last_save = MessageHub.get_current_instance().get_info('last_ckpt')
    for hint in filter(None, (path, last_save)):
        converted.last_checkpoint = last_complete_checkpoint_near(hint)
        if converted.last_checkpoint:
            break
    converted.last_checkpoint = converted.last_checkpoint or None
    return converted


def run_cli(fn: Callable, args) -> int:
    """Run ``fn(args)``; a user error or a refused write prints one line.

    Returns:
        int: ``fn``'s status if it returns an int, else
        :attr:`ExitStatus.OK`; :attr:`ExitStatus.INPUT` on an InputError;
        :attr:`ExitStatus.WRITE` on a refused write (:func:`as_write_error`).
    """
    try:
        status = fn(args)
    except InputError as e:
        sys.stderr.write(f'error: {e}\n')
        return final_status(ExitStatus.INPUT)
    except OSError as e:
        refused = as_write_error(e)
        if refused is None:
            raise
        sys.stderr.write(f'error: {refused}\n')
        return final_status(ExitStatus.WRITE)
    return int(status) if isinstance(status, int) else int(ExitStatus.OK)


def final_status(status: ExitStatus) -> int:
    """``status``, also written to ``$TSM_FINAL_STATUS_FILE`` when set: a
    status no restart can change (bad input, a refused write), read by the
    restart loops of ``tools/launch.sh`` and ``tools/slurm_train.sh``
    (torchrun reports every failure as 1, srun the highest of its tasks').
    """
    path = os.environ.get('TSM_FINAL_STATUS_FILE')
    if path:
        try:
            with open(path, 'w') as f:
                f.write(f'{int(status)}\n')
        except OSError:  # the restart loop then retries: no worse
            pass
    return int(status)
