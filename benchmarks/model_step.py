"""``model`` mode: one TSM training step, ours against mmaction2's.

One ``train_step`` (data preprocessor, forward, backward, optimizer) of the
recipe's TSM (https://arxiv.org/abs/1811.08383) as the recipe runs it on
this device (its precision and memory format), against mmaction2's
``ResNetTSM`` with the same head in fp32 NCHW, on the same batches.
"""

import argparse
import copy
from typing import Callable, Dict, List

import torch
from mmengine.optim import build_optim_wrapper

from tsm_plugin.engine.precision import (
    precision_name,
    resolve_channels_last,
    resolve_dtype,
)
from tsm_plugin.testing.demo_inputs import fake_batch
from tsm_plugin.utils.allocator import keep_freed_memory
from tsm_plugin.utils.config import load_config
from tsm_plugin.utils.device import device_type_of, resolve_device

from ._args import add_json, add_step_flags, add_timing, int_at_least, positive
from ._build import (
    build_model,
    init_scope,
    optim_wrapper_cfg,
    preprocessor_cfg,
    scratch_model_cfg,
)
from ._timing import device_name, log, ratio, round_robin, summarize, sync_fn

DEFAULT_CONFIG = 'configs/tsm_r50_16f_ssv2.py'

#: Batches the model mode cycles through. One batch over and over is
#: memorised within a few steps; the vanishing gradients then turn into
#: fp32 denormals, which slow a CPU's fp32 kernels a hundredfold, an
#: artefact no real training run shows.
NUM_FAKE_BATCHES = 4


def recipe_settings(cfg) -> dict:
    """The precision and channels_last setting a config trains with.

    ``AutocastOptimWrapper.precision`` (default ``'auto'``), fp16 for
    mmengine's ``AmpOptimWrapper``, fp32 for a plain ``OptimWrapper``; the
    data preprocessor's ``channels_last`` (False unless it is a
    ``ChannelsLastActionDataPreprocessor``).
    """
    wrapper = cfg.get('optim_wrapper') or {}
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'AutocastOptimWrapper':
        precision = wrapper.get('precision', 'auto')
    elif kind == 'AmpOptimWrapper':
        precision = 'fp16'
    else:
        precision = 'fp32'
    pre = cfg.model.get('data_preprocessor') or {}
    channels_last = (
        pre.get('channels_last', 'auto')
        if pre.get('type') == 'ChannelsLastActionDataPreprocessor'
        else False
    )
    return dict(precision=precision, channels_last=channels_last)


def step_settings(args: argparse.Namespace, cfg, device: str) -> tuple:
    """(batch, precision, channels_last) of a step benchmark.

    The flags ``--batch``, ``--amp`` and ``--channels-last`` where given,
    else 1 clip on a CPU (the recipe's batch on a GPU) and the recipe's
    precision and memory format (:func:`recipe_settings`).
    """
    batch = args.batch or (
        1
        if device_type_of(device) == 'cpu'
        else cfg.train_dataloader.batch_size
    )
    settings = recipe_settings(cfg)
    precision = {None: settings['precision'], 'none': 'fp32'}.get(
        args.amp, args.amp
    )
    channels_last = (
        settings['channels_last']
        if args.channels_last is None
        else args.channels_last
    )
    return batch, precision, channels_last


def heap_policy(args: argparse.Namespace, device: str) -> str:
    """Set, on a CPU, the heap reuse training runs use (HeapReuseHook),
    unless ``--glibc-default-malloc``; returns what is in effect."""
    if device_type_of(device) != 'cpu':
        return 'device allocator'
    if not args.glibc_default_malloc and keep_freed_memory():
        return 'heap reuse (HeapReuseHook)'
    return 'C library default'


def model_cfgs(cfg, frames: int, precision: str, channels_last) -> tuple:
    """(ours, stock) model configs, and (ours, stock) optim wrapper configs.

    Ours: the recipe's model (backbone from scratch: no download) with our
    channels_last data preprocessor; stock: mmaction2's ``ResNetTSM`` of the
    same depth and shift with the same head and ``ActionDataPreprocessor``.
    Both use the recipe's optimizer, constructor and clipping.
    """
    ours = scratch_model_cfg(cfg, channels_last, frames)
    stock = copy.deepcopy(ours)
    stock.backbone = dict(
        type='ResNetTSM',
        depth=ours.backbone.depth,
        num_segments=frames,
        shift_div=ours.backbone.get('shift_div', 8),
        norm_eval=ours.backbone.get('norm_eval', False),
        pretrained=None,
        pretrained2d=False,
    )
    stock.data_preprocessor = preprocessor_cfg(
        ours, type='ActionDataPreprocessor'
    )
    ours_wrapper = optim_wrapper_cfg(
        cfg, type='AutocastOptimWrapper', precision=precision
    )
    stock_wrapper = optim_wrapper_cfg(cfg, type='OptimWrapper')
    return ours, stock, ours_wrapper, stock_wrapper


def _step_fn(
    model_cfg,
    wrapper_cfg,
    device: str,
    batches: List[dict],
    compile: bool = False,
) -> Callable[[], None]:
    """One ``train_step`` per call, cycling through ``batches`` (each call
    gets a fresh shallow copy: the preprocessor replaces ``inputs``)."""
    model = build_model(model_cfg).to(device).train()
    if compile:
        model.backbone.compile()  # in place: state_dict keys unchanged
    wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
    state = dict(i=0)

    def step():
        batch = batches[state['i'] % len(batches)]
        state['i'] += 1
        model.train_step(
            dict(
                inputs=list(batch['inputs']),
                data_samples=batch['data_samples'],
            ),
            wrapper,
        )

    return step


def _resnet50_step(
    images: int, size: int, device: str, dtype, channels_last: bool
) -> Callable[[], None]:
    """A plain ResNet-50 training step on ``images`` images (the ceiling)."""
    try:
        from torchvision.models import resnet50

        net = resnet50()
    except ImportError:  # same architecture from mmaction2
        from mmaction.models.backbones import ResNet

        net = torch.nn.Sequential(
            ResNet(depth=50, pretrained=None),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(2048, 1000),
        )
    net.to(device).train()
    memory_format = (
        torch.channels_last if channels_last else torch.contiguous_format
    )
    net.to(memory_format=memory_format)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(images, 3, size, size, device=device).contiguous(
        memory_format=memory_format
    )
    y = torch.randint(0, 1000, (images,), device=device)

    def step():
        with torch.autocast(
            device_type=device_type_of(device),
            dtype=dtype or torch.float32,
            enabled=dtype is not None,
        ):
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def _model_steps(
    args: argparse.Namespace,
    cfg,
    device: str,
    batch: int,
    precision: str,
    channels_last,
) -> Dict[str, Callable[[], None]]:
    """The step functions to time: ours at ``precision`` and
    ``channels_last`` (:func:`step_settings`), mmaction2's stock model,
    ours in fp32 NCHW (unless that is ours already) and, on CUDA, a plain
    ResNet-50 on as many images (the ceiling)."""
    dtype = resolve_dtype(precision, device)
    cl = resolve_channels_last(channels_last, device)
    ours_cfg, stock_cfg, ours_w, stock_w = model_cfgs(
        cfg, args.frames, precision, channels_last
    )
    same_cfg = copy.deepcopy(ours_cfg)
    same_cfg.data_preprocessor['channels_last'] = False
    same_w = dict(ours_w, precision='fp32')
    num_classes = ours_cfg.cls_head.num_classes
    batches = [
        fake_batch(batch, args.frames, args.size, num_classes, seed)
        for seed in range(NUM_FAKE_BATCHES)
    ]
    steps = {}
    for name, mcfg, wcfg in (
        ('ours', ours_cfg, ours_w),
        ('mmaction2', stock_cfg, stock_w),
        ('ours_fp32_nchw', same_cfg, same_w),
    ):
        if name == 'ours_fp32_nchw' and dtype is None and not cl:
            continue  # identical to 'ours'
        steps[name] = _step_fn(
            mcfg,
            wcfg,
            device,
            batches,
            args.compile and name.startswith('ours'),
        )
    if device_type_of(device) == 'cuda':
        steps['resnet50'] = _resnet50_step(
            batch * args.frames, args.size, device, dtype, cl
        )
    return steps


def _sides(
    times: Dict[str, List[float]], batch: int, frames: int, ours_as: tuple
) -> Dict[str, dict]:
    """The summaries of ours, mmaction2's and ours in fp32 NCHW, each with
    its precision, memory format and images/s; ``ours_as`` is ours'
    (precision, channels_last)."""
    sides = {}
    for name, (prec, cl) in (
        ('ours', ours_as),
        ('mmaction2', ('fp32', False)),
        ('ours_fp32_nchw', ('fp32', False)),
    ):
        side = sides[name] = summarize(times[name], batch, 'clips')
        side['precision'] = prec
        side['memory_format'] = 'channels_last' if cl else 'NCHW'
        side['images_per_s'] = round(side['clips_per_s'] * frames, 3)
    return sides


def bench_model(args: argparse.Namespace) -> dict:
    """The ``model`` mode; returns the report."""
    init_scope()
    device = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    batch, precision, channels_last = step_settings(args, cfg, device)
    heap = heap_policy(args, device)
    dtype = resolve_dtype(precision, device)
    cl = resolve_channels_last(channels_last, device)
    log(
        f'model: {args.config}, {args.frames} frames, {args.size} px, '
        f'batch {batch}, {device}; ours {precision_name(dtype)}'
        f'{" channels_last" if cl else " NCHW"}, mmaction2 fp32 NCHW'
    )
    steps = _model_steps(args, cfg, device, batch, precision, channels_last)
    times = round_robin(
        steps, args.warmup, args.iters, sync_fn(device), label='model'
    )
    if 'ours_fp32_nchw' not in times:
        times['ours_fp32_nchw'] = times['ours']
    sides = _sides(times, batch, args.frames, (precision_name(dtype), cl))
    ours, stock = sides['ours'], sides['mmaction2']
    ours['compile'] = bool(args.compile)
    report = dict(
        mode='model',
        device=device,
        device_name=device_name(device),
        config=args.config,
        depth=cfg.model.backbone.depth,
        frames=args.frames,
        size=args.size,
        batch=batch,
        heap=heap,
        warmup=args.warmup,
        iters=args.iters,
        **sides,
        speedup=ratio(ours, stock, 'clips_per_s'),
        speedup_same_settings=ratio(
            sides['ours_fp32_nchw'], stock, 'clips_per_s'
        ),
    )
    if 'resnet50' in times:
        r50 = summarize(times['resnet50'], batch * args.frames, 'images')
        report['resnet50'] = r50
        report['fraction_of_resnet50'] = round(
            ours['images_per_s'] / r50['images_per_s'], 3
        )
    return report


def format_model(report: dict) -> str:
    """The report as the lines the CLI prints."""
    o, s, f = report['ours'], report['mmaction2'], report['ours_fp32_nchw']
    lines = [
        f'model: TSM-R{report["depth"]} training step, '
        f'{report["frames"]} frames, '
        f'{report["size"]} px, batch {report["batch"]}, '
        f'{report["device"]} ({report["device_name"]}), {report["heap"]}',
        f'  ours      ({o["precision"]}, {o["memory_format"]}): '
        f'{o["seconds_per_step"]:.3f} s/step  {o["clips_per_s"]:.3f} clips/s',
        f'  mmaction2 (fp32, NCHW): {s["seconds_per_step"]:.3f} s/step  '
        f'{s["clips_per_s"]:.3f} clips/s',
        f'  ours      (fp32, NCHW): {f["seconds_per_step"]:.3f} s/step  '
        f'{f["clips_per_s"]:.3f} clips/s',
        f'  speedup {report["speedup"]:.2f}x   '
        f'speedup_same_settings {report["speedup_same_settings"]:.2f}x',
    ]
    if 'resnet50' in report:
        r = report['resnet50']
        lines.append(
            f'  plain ResNet-50: {r["images_per_s"]:.1f} images/s;'
            f' ours {o["images_per_s"]:.1f} images/s = '
            f'{report["fraction_of_resnet50"]:.2f}x of it'
        )
    return '\n'.join(lines)


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``model`` subcommand, its flags and defaults."""
    p = sub.add_parser('model', help='one training step, ours vs stock')
    add_json(p)
    # 2 + 5 round-robin steps of ~0.8 + 2.2 + 2.1 s on a 2-core CPU: ~40 s.
    add_timing(p, warmup=2, iters=5)
    p.add_argument(
        '--config',
        default=DEFAULT_CONFIG,
        help='the recipe (its model, optimizer, precision)',
    )
    add_step_flags(p, of='ours')
    p.add_argument('--frames', type=positive, default=16)
    p.add_argument('--size', type=int_at_least(32), default=224)
    p.add_argument(
        '--threads',
        type=positive,
        default=None,
        help="CPU threads for torch (default: torch's, all cores)",
    )
    p.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile our backbone (slow first steps)',
    )
    p.set_defaults(func=bench_model, format=format_model)
    return p
