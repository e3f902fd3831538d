"""``tools/train.py``: mmaction2's train CLI plus the data and schedule flags.

Mirrors mmaction2's ``tools/train.py`` (CONFIG, ``--work-dir``, ``--resume``,
``--amp``, ``--auto-scale-lr``, ``--cfg-options``, ``--launcher``,
``--seed``) and adds ``--data-root``, ``--epochs``, ``--batch-size``,
``--num-workers`` (with underscore spellings too). ``--resume`` without a
path is resolved here, as mmaction2 resolves it, to the checkpoint
``last_checkpoint`` names if it is complete
(:func:`~tsm_plugin.engine.checkpoint.find_resumable_checkpoint`).
A worker restarted by torchrun (``MAX_RESTARTS`` of ``tools/dist_train.sh``)
or by ``tools/slurm_train.sh`` resumes that way by itself
(:func:`~tsm_plugin.engine.distributed.elastic_restart`).
Everything else is MMEngine's Runner, built from the config.
"""

import argparse
import sys
from typing import List, Optional

from mmengine.config import Config

from ..engine.checkpoint import existing_checkpoint, find_resumable_checkpoint
from ..engine.distributed import (
    check_sync_bn,
    elastic_restart,
    restart_line,
)
from ..engine.hooks import NonFiniteLossError, Preempted, release_signals
from ..errors import ExitStatus
from ..utils.config import load_config, set_data_root, set_epochs
from . import _cli


def build_parser() -> argparse.ArgumentParser:
    p = _cli.ArgumentParser(
        description='Train a TSM recognizer (MMEngine Runner).'
    )
    p.add_argument(
        'config', help='config file, e.g. configs/tsm_r50_16f_ssv2.py'
    )
    p.add_argument(
        '--work-dir',
        '--checkpoint-dir',
        '--checkpoint_dir',
        dest='work_dir',
        help='where logs and checkpoints go '
        '(default: ./work_dirs/<config name>)',
    )
    p.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        metavar='CHECKPOINT',
        help='resume training; without CHECKPOINT, from the latest '
        'checkpoint in the work dir',
    )
    _cli.add_data_args(p, batch_help='training clips per GPU (process)')
    p.add_argument(
        '--epochs',
        type=int,
        help='number of epochs (the LR schedule stretches to match)',
    )
    p.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision (CUDA: fp16 with loss scaling)',
    )
    p.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale lr linearly from the total batch of 32 it '
        'is tuned for to the real total batch',
    )
    p.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training',
    )
    p.add_argument('--seed', type=int, default=None, help='random seed')
    p.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='a different seed on each rank',
    )
    p.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic cuDNN/algorithms',
    )
    _cli.add_launch_args(
        p,
        'override config keys, e.g. num_frames=8 or '
        'model.backbone.pretrained=/path/resnet50.pth',
    )
    return p


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line flags to the config."""
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.epochs is not None:
        set_epochs(cfg, args.epochs)
    _cli.set_loader_args(cfg, args, ('train_dataloader',))
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.pop('save_best', None)

    cfg.launcher = args.launcher
    check_sync_bn(cfg)
    _cli.set_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        if cfg.optim_wrapper.get('type') == 'AutocastOptimWrapper':
            cfg.optim_wrapper.precision = 'fp16'  # with loss scaling
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    set_resume(cfg, args.resume)

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    randomness = cfg.get('randomness', {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    if randomness:
        cfg.randomness = randomness
    return cfg


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """Set ``cfg.resume``/``load_from`` from ``--resume`` and a restart.

    ``--resume`` alone (``'auto'``, as mmaction2 resolves it) continues
    from the work dir's last complete checkpoint, or starts afresh. A
    restarted worker (:func:`~tsm_plugin.engine.distributed.
    elastic_restart`) does so whatever ``--resume`` says, since the last
    checkpoint is newer than any path given; with none yet it starts as the
    first attempt did (``--resume CHECKPOINT``, the config's ``load_from``).
    """
    found = None
    if resume == 'auto' or elastic_restart() is not None:
        found = find_resumable_checkpoint(cfg.work_dir)
    if found is not None:
        cfg.resume = True
        cfg.load_from = found
    elif resume == 'auto':
        cfg.resume = False
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = existing_checkpoint(resume, '--resume checkpoint')


def train(args: argparse.Namespace):
    """Build the Runner from CONFIG plus flags and train; returns the model."""
    from mmengine.runner import Runner

    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    runner = Runner.from_cfg(cfg)
    _cli.log_device(runner)
    restart = elastic_restart()
    if restart is not None:
        runner.logger.info(restart_line(restart, cfg))
    try:
        return runner.train()
    finally:  # a run ended by an error calls no after_train
        release_signals(runner)


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 done, 2 bad input, 3 preempted (resumable), 1 else."""
    args = build_parser().parse_args(argv)
    try:
        return _cli.run_cli(train, args)
    except Preempted as e:  # checkpoint saved: --resume continues
        sys.stderr.write(f'preempted: {e}\n')
        return e.exit_code
    except NonFiniteLossError as e:
        sys.stderr.write(f'error: {e}\n')
        return int(ExitStatus.ERROR)
