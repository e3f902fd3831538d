"""``tools/test.py``: evaluate a checkpoint (top-1 / top-5) with the Runner.

The checkpoint must fill the model (TSM-repo, FFN-repo, mmaction2 and our
checkpoints are converted by their keys; anything else is refused in one
line, exit 2) and is evaluated in fp32 unless ``--precision`` says
otherwise; the result and the test log's JSON name the precision.
"""

import argparse
from typing import List, Optional

from mmengine.config import Config

from ..datasets.test_protocols import (
    PROTOCOLS,
    apply_test_protocol,
    describe_protocol,
)
from ..engine.checkpoint import existing_checkpoint
from ..engine.distributed import check_sync_bn
from ..engine.hooks.eval_autocast_hook import (
    set_eval_precision,
    used_precision,
)
from ..engine.precision import PRECISIONS
from ..utils.config import load_config, set_data_root, set_num_frames
from . import _cli


def build_parser() -> argparse.ArgumentParser:
    p = _cli.ArgumentParser(
        description='Evaluate a TSM checkpoint under a test protocol.'
    )
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file (.pth)')
    p.add_argument(
        '--work-dir',
        help='where the test log goes (default: ./work_dirs/<config name>)',
    )
    _cli.add_data_args(p, batch_help='test clips per GPU (process)')
    p.add_argument(
        '--num-frames',
        '--num_frames',
        dest='num_frames',
        type=int,
        help='evaluate at N frames instead of the '
        'trained count (sets the backbone, the head and the '
        'sampler together; see tools/eval_tfd.py for a sweep)',
    )
    p.add_argument(
        '--precision',
        choices=PRECISIONS,
        default='fp32',
        help='evaluation precision (default fp32: the same numbers on every '
        'machine; auto = bf16 where the hardware is fast at it)',
    )
    p.add_argument(
        '--protocol',
        choices=PROTOCOLS,
        help="test protocol (default: the config's test_protocol, else "
        'efficient): efficient = 1 clip x centre crop; accurate = the TSM '
        "repo's 2 clips x 3 full-res crops, logits averaged; zoo = "
        "mmaction2's 2 clips x ThreeCrop, softmax averaged",
    )
    p.add_argument(
        '--dump',
        metavar='FILE.pkl',
        help='also dump the predictions to this pickle file',
    )
    _cli.add_launch_args(p, 'override config keys')
    return p


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line flags to the config."""
    existing_checkpoint(args.checkpoint)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.num_frames is not None:
        set_num_frames(cfg, args.num_frames, what='--num-frames')
    apply_test_protocol(cfg, args.protocol)
    _cli.set_loader_args(cfg, args, ('test_dataloader',))
    cfg.launcher = args.launcher
    set_eval_precision(cfg, args.precision)
    check_sync_bn(cfg)
    _cli.set_work_dir(cfg, args.work_dir, args.config)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.dump:
        dump = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = (
            list(evaluator)
            if isinstance(evaluator, (list, tuple))
            else [evaluator]
        ) + [dump]
    return cfg


def test(args: argparse.Namespace) -> dict:
    """Build the Runner and evaluate; returns the metrics dict and
    ``precision``, the precision the model ran in."""
    from mmengine.runner import Runner

    cfg = merge_args(load_config(args.config, args.cfg_options), args)
    runner = Runner.from_cfg(cfg)
    _cli.log_device(runner)
    protocol = describe_protocol(cfg.test_protocol)
    runner.logger.info(f'Protocol: {protocol["name"]}: {protocol["summary"]}')
    runner.message_hub.update_info('test/protocol', protocol['name'])
    metrics = runner.test()
    return dict(metrics, precision=used_precision(runner.model, 'test'))


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run_cli(test, args)
