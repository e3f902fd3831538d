"""``ffn`` mode: one FFN training step against one TSM 16-frame step.

An FFN (https://arxiv.org/abs/2303.14817) training step runs every clip at
16, 8 and 4 frames (28 frames: 1.75x the frames of TSM's 16) through the
shared convs, each count with its own BatchNorms and adapters, plus the
distillation loss. This mode times one ``train_step`` of the FFN recipe
against one of the TSM recipe on the same device, at the same precision,
memory format, batch and size, round robin in one run.
"""

import argparse

from tsm_plugin.engine.precision import (
    precision_name,
    resolve_channels_last,
    resolve_dtype,
)
from tsm_plugin.models.ffn_recognizer import check_train_cfg
from tsm_plugin.testing.demo_inputs import fake_batch
from tsm_plugin.utils.config import load_config
from tsm_plugin.utils.device import resolve_device

from ._args import add_json, add_step_flags, add_timing, int_at_least
from ._build import init_scope, optim_wrapper_cfg, scratch_model_cfg
from ._timing import device_name, log, round_robin, summarize, sync_fn
from .model_step import (
    NUM_FAKE_BATCHES,
    _step_fn,
    heap_policy,
    step_settings,
)

FFN_CONFIG = 'configs/ffn_r50_4-8-16f_ssv2.py'
TSM_CONFIG = 'configs/tsm_r50_16f_ssv2.py'


def bench_ffn(args: argparse.Namespace) -> dict:
    """The ``ffn`` mode; returns the report."""
    init_scope()
    device = resolve_device(args.device)
    ffn_cfg = load_config(args.config)
    tsm_cfg = load_config(args.tsm_config)
    counts = tuple(ffn_cfg.model.backbone.frame_counts)
    frames = max(counts)
    batch, precision, channels_last = step_settings(args, tsm_cfg, device)
    heap = heap_policy(args, device)
    dtype = resolve_dtype(precision, device)
    cl = resolve_channels_last(channels_last, device)
    num_classes = tsm_cfg.model.cls_head.num_classes

    ffn_model = scratch_model_cfg(ffn_cfg, channels_last)
    ffn_model.cls_head.num_classes = num_classes
    train_cfg = dict(ffn_model.get('train_cfg') or {})
    if args.split_stages is not None:
        train_cfg['split_stages'] = args.split_stages
    ffn_model.train_cfg = check_train_cfg(train_cfg)
    split_stages = ffn_model.train_cfg['split_stages']
    tsm_model = scratch_model_cfg(tsm_cfg, channels_last, frames)
    for name, model in (('ffn', ffn_model), ('tsm', tsm_model)):
        if args.depth:
            model.backbone.depth = args.depth
            in_channels = 512 if args.depth < 50 else 2048
            model.cls_head.in_channels = in_channels
    log(
        f'ffn: {args.config} ({"/".join(map(str, counts))} frames, '
        f'split_stages {split_stages}) vs '
        f'{args.tsm_config} ({frames} frames), {args.size} px, batch '
        f'{batch}, {device}, {precision_name(dtype)}'
        f'{" channels_last" if cl else " NCHW"}, {heap}'
    )
    steps = {}
    for name, model, cfg, total in (
        ('ffn', ffn_model, ffn_cfg, sum(counts)),
        ('tsm', tsm_model, tsm_cfg, frames),
    ):
        batches = [
            fake_batch(batch, total, args.size, num_classes, seed)
            for seed in range(NUM_FAKE_BATCHES)
        ]
        wrapper = optim_wrapper_cfg(
            cfg, type='AutocastOptimWrapper', precision=precision
        )
        steps[name] = _step_fn(model, wrapper, device, batches)
    times = round_robin(
        steps, args.warmup, args.iters, sync_fn(device), label='ffn'
    )
    ffn = summarize(times['ffn'], batch, 'clips')
    tsm = summarize(times['tsm'], batch, 'clips')
    return dict(
        mode='ffn',
        device=device,
        device_name=device_name(device),
        config=args.config,
        tsm_config=args.tsm_config,
        depth=ffn_model.backbone.depth,
        frame_counts=list(counts),
        split_stages=split_stages,
        size=args.size,
        batch=batch,
        heap=heap,
        precision=precision_name(dtype),
        memory_format='channels_last' if cl else 'NCHW',
        warmup=args.warmup,
        iters=args.iters,
        ffn=ffn,
        tsm=tsm,
        frames_ratio=round(sum(counts) / frames, 3),
        cost_ratio=round(ffn['seconds_per_step'] / tsm['seconds_per_step'], 3),
    )


def format_ffn(report: dict) -> str:
    """The report as the lines the CLI prints."""
    f, t = report['ffn'], report['tsm']
    counts = '/'.join(map(str, report['frame_counts']))
    return '\n'.join(
        [
            f'ffn: R{report["depth"]} training step, {report["size"]} px, '
            f'batch {report["batch"]}, {report["precision"]} '
            f'{report["memory_format"]}, {report["device"]} '
            f'({report["device_name"]}), {report["heap"]}',
            f'  FFN ({counts} frames, split_stages '
            f'{report["split_stages"]}): {f["seconds_per_step"]:.3f} s/step',
            f'  TSM ({max(report["frame_counts"])} frames): '
            f'{t["seconds_per_step"]:.3f} s/step',
            f'  FFN / TSM: {report["cost_ratio"]:.2f}x the time '
            f'({report["frames_ratio"]:.2f}x the frames)',
        ]
    )


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``ffn`` subcommand, its flags and defaults."""
    p = sub.add_parser('ffn', help='one FFN training step vs one TSM step')
    add_json(p)
    add_timing(p, warmup=2, iters=5)
    p.add_argument('--config', default=FFN_CONFIG, help='the FFN recipe')
    p.add_argument(
        '--tsm-config', default=TSM_CONFIG, help='the TSM recipe to compare'
    )
    add_step_flags(p, of='both')
    p.add_argument('--size', type=int_at_least(32), default=224)
    p.add_argument(
        '--depth',
        type=int,
        choices=[18, 34, 50, 101],
        default=None,
        help="ResNet depth of both (default: the recipes')",
    )
    p.add_argument(
        '--split-stages',
        type=int,
        choices=range(5),
        default=None,
        help='residual stages the FFN step runs branch by branch before it '
        "runs the branches together (default: the recipe's train_cfg, "
        'else 3)',
    )
    p.set_defaults(func=bench_ffn, format=format_ffn)
    return p
