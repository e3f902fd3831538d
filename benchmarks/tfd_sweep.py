"""``tfd`` mode: wall time of a TFD sweep, ours against mmaction2's way.

The 4/8/12/16-frame Temporal Frequency Deviation sweep
(https://arxiv.org/abs/2303.14817) of one checkpoint over the validation
videos: ours decodes each video once for all frame counts and reports each
count's GFLOPs (:mod:`tsm_plugin.evaluation.complexity`, counted once per
architecture and kept); mmaction2 alone runs one evaluation per count with
its stock (decord) test pipeline and counts no FLOPs. Also one evaluation
at the trained count with our pipeline (no FLOPs, as ``tools/test.py``),
the unit the sweep's cost is measured in.

The three run round robin after one untimed warm-up round of each
(:data:`WARMUP_ROUNDS`: the page cache, the FLOP cache, lazy
initialisation, the same for every path), so the timed rounds measure
decoding and inference.
"""

import argparse
import copy
import os.path as osp

from mmengine.runner import load_checkpoint

from tsm_plugin.engine.checkpoint import (
    existing_checkpoint,
    save_checkpoint_file,
)
from tsm_plugin.errors import InputError
from tsm_plugin.evaluation import sweep_model
from tsm_plugin.utils.config import (
    check_frame_counts,
    iter_datasets,
    set_data_root,
    set_loader_option,
)

from ._args import add_json, add_videos, non_negative, positive
from ._build import build_model
from ._stock import stock_test_pipeline
from ._timing import device_name, log, ratio, round_robin, summarize
from ._videos import DEFAULT_CACHE, data_setup

DEMO_CONFIG = 'configs/tsm_demo_synthetic.py'
TFD_FRAMES = (4, 8, 12, 16)
WARMUP_ROUNDS = 1  # untimed: a first pass pays one-off costs (see above)


def _test_pipeline(cfg) -> list:
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            return list(loader['dataset']['pipeline'])
    raise InputError('config has no test_dataloader / val_dataloader')


def _set_test_pipeline(cfg, pipeline: list) -> None:
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            for ds in iter_datasets(
                {f'{stage}_dataloader': loader}, (f'{stage}_dataloader',)
            ):
                ds['pipeline'] = copy.deepcopy(pipeline)


def scratch_checkpoint(cfg, cache: str, config: str) -> str:
    """A checkpoint of the config's model, from scratch (timing does not
    depend on the weights); written once under ``cache``."""
    name = osp.splitext(osp.basename(config))[0]
    path = osp.join(cache, f'tfd_{name}.pth')
    if not osp.isfile(path):
        model = build_model(cfg.model)
        save_checkpoint_file(
            dict(state_dict=model.state_dict(), meta=dict()), path
        )
    return path


def _validation_cfg(args: argparse.Namespace):
    """The config, its test split the validation videos of the benchmark's
    data root; returns ``(cfg, root)``."""
    cfg, root = data_setup(args)
    set_data_root(cfg, root)
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            loader['dataset'].update(
                ann_file='labels/validation.json',
                label_file='labels/labels.json',
            )
    if args.workers is not None:
        set_loader_option(cfg, 'num_workers', args.workers)
    return cfg, root


def bench_tfd(args: argparse.Namespace) -> dict:
    """The ``tfd`` mode; returns the report."""
    frames = list(check_frame_counts(args.frames, '--frames', dedupe=True))
    cfg, root = _validation_cfg(args)
    checkpoint = existing_checkpoint(
        args.checkpoint or scratch_checkpoint(cfg, args.cache, args.config)
    )
    stock_cfg = copy.deepcopy(cfg)
    _set_test_pipeline(stock_cfg, stock_test_pipeline(_test_pipeline(cfg)))

    model = build_model(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    log(f'tfd: {args.config}, frames {frames}, validation videos of {root}')
    top1 = {}

    def sweep(name, sweep_cfg, sweep_frames, decode_once, complexity):
        def run():
            rep = sweep_model(
                model,
                sweep_cfg,
                sweep_frames,
                decode_once=decode_once,
                logger='silent',
                complexity=complexity,
            )
            top1[name] = {
                r['frames']: round(100 * r['top1'], 2) for r in rep['results']
            }

        return run

    times = round_robin(
        {
            'ours': sweep('ours', cfg, frames, True, True),
            # mmaction2's own evaluations count no FLOPs
            'mmaction2': sweep('mmaction2', stock_cfg, frames, False, False),
            # one evaluation at the trained count, our pipeline
            'ours_one_eval': sweep(
                'ours_one_eval', cfg, frames[-1:], False, False
            ),
        },
        warmup=WARMUP_ROUNDS,
        iters=args.rounds,
        label='tfd',
    )
    ours, stock, one = (
        summarize(times[name], 1, 'sweeps')
        for name in ('ours', 'mmaction2', 'ours_one_eval')
    )
    key = 'seconds_per_step'
    return dict(
        mode='tfd',
        device_name=device_name(),
        config=args.config,
        checkpoint=checkpoint,
        frames=frames,
        rounds=args.rounds,
        warmup_rounds=WARMUP_ROUNDS,
        ours=dict(
            seconds=round(ours[key], 3),
            times=ours['times'],
            top1=top1['ours'],
            path='decode once, all counts, GFLOPs per count (traced in '
            'the warm-up round, then cached)',
        ),
        mmaction2=dict(
            seconds=round(stock[key], 3),
            times=stock['times'],
            top1=top1['mmaction2'],
            path=f'{len(frames)} separate evaluations, stock pipeline, '
            'no FLOP count',
        ),
        one_evaluation=dict(seconds=round(one[key], 3), frames=frames[-1]),
        # time ratios: stock's time / ours is our speedup
        speedup=ratio(stock, ours, key),
        sweep_over_one_evaluation=ratio(ours, one, key),
        separate_over_one_evaluation=ratio(stock, one, key),
    )


def format_tfd(report: dict) -> str:
    """The report as the lines the CLI prints."""
    o, s = report['ours'], report['mmaction2']
    one = report['one_evaluation']
    return '\n'.join(
        [
            f'tfd: sweep over {report["frames"]} frames, one checkpoint '
            f'({report["config"]}; {report["device_name"]}); median of '
            f'{report["rounds"]} round(s) after {report["warmup_rounds"]} '
            'untimed warm-up round(s)',
            f'  ours     : {o["seconds"]:.2f} s  ({o["path"]}); top-1 '
            f'{o["top1"]}',
            f'  mmaction2: {s["seconds"]:.2f} s  ({s["path"]}); top-1 '
            f'{s["top1"]}',
            f'  one evaluation at {one["frames"]} frames: '
            f'{one["seconds"]:.2f} s '
            f'-> sweep = {report["sweep_over_one_evaluation"]:.2f}x, separate '
            f'= {report["separate_over_one_evaluation"]:.2f}x of it',
            f'  speedup {report["speedup"]:.2f}x',
        ]
    )


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``tfd`` subcommand, its flags and defaults."""
    p = sub.add_parser('tfd', help='TFD sweep wall time, ours vs stock')
    add_json(p)
    p.add_argument(
        '--config',
        default=DEMO_CONFIG,
        help='config of the checkpoint (default: the demo)',
    )
    p.add_argument(
        '--checkpoint',
        help='checkpoint to sweep (default: the '
        "config's model from scratch, saved under --cache)",
    )
    add_videos(p, DEFAULT_CACHE)
    p.add_argument(
        '--frames', nargs='+', type=positive, default=list(TFD_FRAMES)
    )
    p.add_argument(
        '--workers',
        type=non_negative,
        default=None,
        help="dataloader workers (default: the config's)",
    )
    p.add_argument(
        '--rounds',
        type=positive,
        default=1,
        help='timed repetitions of each (median), after one untimed '
        'warm-up round',
    )
    p.set_defaults(func=bench_tfd, format=format_tfd)
    return p
