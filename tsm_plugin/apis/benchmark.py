"""``tools/benchmark.py``: our training step, data pipeline and TFD sweep
against mmaction2's stock equivalents, measured in one run on the same
inputs.

Three modes, each printing both figures and their ratio (``speedup`` = our
throughput / mmaction2's; above 1 we are faster) and, with ``--json PATH``,
writing ``{"ours": {...}, "mmaction2": {...}, "speedup": X, ...}``:

* ``model``: one training step (data preprocessor, forward, backward,
  optimizer) of TSM-R50 (https://arxiv.org/abs/1811.08383) at 16 frames,
  224 px, as the recipe runs it on this device (its precision and memory
  format), against mmaction2's ``ResNetTSM`` + ``TSMHead`` in fp32 NCHW;
  plus ``speedup_same_settings``, ours in fp32 NCHW too (the backbones
  alone compared); on CUDA also a plain ResNet-50 on as many images (the
  ceiling).
* ``data``: clips/s of the training pipeline (decode, sample 16 frames,
  augment, ``16x3x224x224``) on SSv2-sized videos against mmaction2's stock
  sthv2 video pipeline, in one process and with N loader workers, plus the
  decode floor (each side's pipeline up to its decoder).
* ``tfd``: wall time of the 4/8/12/16-frame TFD sweep
  (https://arxiv.org/abs/2303.14817) of one checkpoint, decoding each video
  once, against four separate evaluations with the stock pipeline.

Timings interleave ours and mmaction2's (round robin, after a warm-up) so
a busy machine slows both alike; each figure is a median.
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.logging import print_log

from ..errors import InputError
from ._cli import run_cli

DEFAULT_CONFIG = 'configs/tsm_r50_16f_ssv2.py'
DEMO_CONFIG = 'configs/tsm_demo_synthetic.py'
DEFAULT_CACHE = 'work_dirs/bench_data'
TFD_FRAMES = (4, 8, 12, 16)

# mmaction2 1.x's sthv2 video training pipeline (configs/recognition/tsm/
# tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py), 16 frames.
STOCK_TRAIN_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=16),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224, scales=(1, .875, .75, .66),
         random_crop=False, max_wh_scale_gap=1, num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
# Its 1-clip centre-crop test pipeline (what FFN's TFD protocol runs).
STOCK_TEST_PIPELINE = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=16,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]


# --------------------------------------------------------------- timing --
def round_robin(fns: Dict[str, Callable[[], None]], warmup: int,
                iters: int, sync: Optional[Callable[[], None]] = None,
                label: Optional[str] = None) -> Dict[str, List[float]]:
    """Time each callable ``iters`` times, interleaved, after ``warmup``.

    Args:
        fns (dict): name -> a callable doing one unit of work.
        warmup (int): untimed calls of each first.
        iters (int): timed calls of each.
        sync (callable, optional): called before reading the clock (e.g.
            ``torch.cuda.synchronize``).
        label (str, optional): log progress after every round under it.

    Returns:
        dict: name -> the ``iters`` durations in seconds.
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    times = {name: [] for name in fns}
    for i in range(iters):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
        if label:
            _log(f'{label}: round {i + 1}/{iters}: ' + ', '.join(
                f'{name} {times[name][-1]:.3f} s' for name in fns))
    return times


def summarize(times: Sequence[float], items: int, unit: str) -> dict:
    """Median time per call and throughput (``items`` per call)."""
    median = statistics.median(times)
    return {
        'seconds_per_step': round(median, 5),
        f'{unit}_per_s': round(items / median, 3),
        'times': [round(t, 5) for t in times],
    }


def ratio(ours: dict, stock: dict, key: str) -> float:
    """``ours[key] / stock[key]`` rounded (a throughput ratio)."""
    return round(ours[key] / stock[key], 3)


def write_json(path: str, report: dict) -> None:
    """Write ``report`` to ``path`` (folders created)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)


def _log(msg: str) -> None:
    print_log(msg, logger='current', level=logging.INFO)


def describe_cpu() -> str:
    """CPU model name and the threads torch uses."""
    import platform

    import torch
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    name = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'{name}, {torch.get_num_threads()} threads'


def _device(name: Optional[str]) -> str:
    import torch
    if name in (None, 'auto'):
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise InputError(f'--device {name}: CUDA is not available')
    return name


def _init_scope() -> None:
    import tsm_plugin.registration  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')


def _quiet_init_logs():
    """mmengine logs every parameter's init at INFO; keep the output short."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level

    class _Restore:
        def __enter__(self):
            logger.setLevel(logging.WARNING)

        def __exit__(self, *exc):
            logger.setLevel(level)

    return _Restore()


# ---------------------------------------------------------------- model --
from ..testing.demo_inputs import fake_batch  # noqa: E402


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
    channels_last = (pre.get('channels_last', 'auto')
                     if pre.get('type') == 'ChannelsLastActionDataPreprocessor'
                     else False)
    return dict(precision=precision, channels_last=channels_last)


def _model_cfgs(cfg, frames: int, precision: str, channels_last) -> tuple:
    """(ours, stock) model configs, and (ours, stock) optim wrapper configs.

    Ours: the recipe's model (backbone from scratch: no download) with our
    channels_last data preprocessor; stock: mmaction2's ``ResNetTSM`` of the
    same depth and shift with the same head and ``ActionDataPreprocessor``.
    Both use the recipe's optimizer, constructor and clipping.
    """
    ours = copy.deepcopy(cfg.model)
    ours.backbone.pretrained = None
    ours.backbone.num_segments = frames
    ours.cls_head.num_segments = frames
    pre = dict(ours.data_preprocessor)
    pre.pop('channels_last', None)
    ours.data_preprocessor = dict(
        pre, type='ChannelsLastActionDataPreprocessor',
        channels_last=channels_last)

    stock = copy.deepcopy(ours)
    stock.backbone = dict(
        type='ResNetTSM', depth=ours.backbone.depth, num_segments=frames,
        shift_div=ours.backbone.get('shift_div', 8),
        norm_eval=ours.backbone.get('norm_eval', False), pretrained=None,
        pretrained2d=False)
    stock.data_preprocessor = dict(pre, type='ActionDataPreprocessor')

    wrapper = copy.deepcopy(cfg.optim_wrapper)
    for key in ('type', 'precision', 'loss_scale', 'dtype'):
        wrapper.pop(key, None)
    ours_wrapper = dict(wrapper, type='AutocastOptimWrapper',
                        precision=precision)
    stock_wrapper = dict(wrapper, type='OptimWrapper')
    return ours, stock, ours_wrapper, stock_wrapper


#: Batches the model mode cycles through. One batch over and over is
#: memorised within a few steps; the vanishing gradients then turn into
#: fp32 denormals, which slow a CPU's fp32 kernels a hundredfold, an
#: artefact no real training run shows.
NUM_FAKE_BATCHES = 4


def _step_fn(model, wrapper, batches: List[dict]) -> Callable[[], None]:
    """One ``train_step`` per call, cycling through ``batches`` (each call
    gets a fresh shallow copy: the preprocessor replaces ``inputs``)."""
    state = dict(i=0)

    def step():
        batch = batches[state['i'] % len(batches)]
        state['i'] += 1
        model.train_step(dict(inputs=list(batch['inputs']),
                              data_samples=batch['data_samples']), wrapper)

    return step


def _build(model_cfg, wrapper_cfg, device: str):
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    with _quiet_init_logs():
        model = MODELS.build(copy.deepcopy(model_cfg))
        model.init_weights()
    model.to(device).train()
    wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
    return model, wrapper


def _resnet50_step(images: int, size: int, device: str, dtype,
                   channels_last: bool) -> Callable[[], None]:
    """A plain ResNet-50 training step on ``images`` images (the ceiling)."""
    import torch
    try:
        from torchvision.models import resnet50
        net = resnet50()
    except ImportError:  # same architecture from mmaction2
        from mmaction.models.backbones import ResNet
        net = torch.nn.Sequential(
            ResNet(depth=50, pretrained=None), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(2048, 1000))
    net.to(device).train()
    memory_format = (torch.channels_last if channels_last
                     else torch.contiguous_format)
    net.to(memory_format=memory_format)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(images, 3, size, size, device=device).contiguous(
        memory_format=memory_format)
    y = torch.randint(0, 1000, (images, ), device=device)

    def step():
        with torch.autocast(device_type=torch.device(device).type,
                            dtype=dtype or torch.float32,
                            enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def bench_model(args: argparse.Namespace) -> dict:
    """The ``model`` mode; returns the report."""
    import torch

    from ..engine.precision import (precision_name, resolve_channels_last,
                                    resolve_dtype)
    from ..utils.config import load_config
    _init_scope()
    device = _device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f'--threads must be >= 1, got {args.threads}')
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    if args.batch is None:  # 1 clip on a CPU, the recipe's batch on a GPU
        args.batch = (cfg.train_dataloader.batch_size
                      if device.startswith('cuda') else 1)
    settings = recipe_settings(cfg)
    precision = {None: settings['precision'], 'none': 'fp32'}.get(
        args.amp, args.amp)
    channels_last = (settings['channels_last'] if args.channels_last is None
                     else args.channels_last)
    dtype = resolve_dtype(precision, device)
    cl = resolve_channels_last(channels_last, device)
    ours_cfg, stock_cfg, ours_w, stock_w = _model_cfgs(
        cfg, args.frames, precision, channels_last)
    same_cfg = copy.deepcopy(ours_cfg)
    same_cfg.data_preprocessor['channels_last'] = False
    same_w = dict(ours_w, precision='fp32')
    num_classes = ours_cfg.cls_head.num_classes
    batches = [fake_batch(args.batch, args.frames, args.size, num_classes,
                          seed) for seed in range(NUM_FAKE_BATCHES)]

    _log(f'model: {args.config}, {args.frames} frames, {args.size} px, '
         f'batch {args.batch}, {device}; ours {precision_name(dtype)}'
         f'{" channels_last" if cl else " NCHW"}, mmaction2 fp32 NCHW')
    steps = {}
    for name, mcfg, wcfg in (('ours', ours_cfg, ours_w),
                             ('mmaction2', stock_cfg, stock_w),
                             ('ours_fp32_nchw', same_cfg, same_w)):
        if name == 'ours_fp32_nchw' and dtype is None and not cl:
            continue  # identical to 'ours'
        model, wrapper = _build(mcfg, wcfg, device)
        if args.compile and name.startswith('ours'):
            model.backbone.compile()  # in place: state_dict keys unchanged
        steps[name] = _step_fn(model, wrapper, batches)
    if device.startswith('cuda'):
        steps['resnet50'] = _resnet50_step(args.batch * args.frames,
                                           args.size, device, dtype, cl)
    sync = torch.cuda.synchronize if device.startswith('cuda') else None
    times = round_robin(steps, args.warmup, args.iters, sync, label='model')
    if 'ours_fp32_nchw' not in times:
        times['ours_fp32_nchw'] = times['ours']

    clips = args.batch
    ours = summarize(times['ours'], clips, 'clips')
    stock = summarize(times['mmaction2'], clips, 'clips')
    same = summarize(times['ours_fp32_nchw'], clips, 'clips')
    for side, prec, fmt in ((ours, precision_name(dtype), cl),
                            (stock, 'fp32', False), (same, 'fp32', False)):
        side['precision'] = prec
        side['memory_format'] = 'channels_last' if fmt else 'NCHW'
        side['images_per_s'] = round(
            side['clips_per_s'] * args.frames, 3)
    ours['compile'] = bool(args.compile)
    report = dict(
        mode='model', device=device,
        device_name=(torch.cuda.get_device_name() if device.startswith(
            'cuda') else describe_cpu()),
        config=args.config, depth=ours_cfg.backbone.depth,
        frames=args.frames, size=args.size,
        batch=args.batch, warmup=args.warmup, iters=args.iters,
        ours=ours, mmaction2=stock, ours_fp32_nchw=same,
        speedup=ratio(ours, stock, 'clips_per_s'),
        speedup_same_settings=ratio(same, stock, 'clips_per_s'))
    if 'resnet50' in times:
        r50 = summarize(times['resnet50'], args.batch * args.frames,
                        'images')
        report['resnet50'] = r50
        report['fraction_of_resnet50'] = round(
            ours['images_per_s'] / r50['images_per_s'], 3)
    return report


def format_model(report: dict) -> str:
    o, s, f = report['ours'], report['mmaction2'], report['ours_fp32_nchw']
    lines = [
        f'model: TSM-R{report["depth"]} training step, '
        f'{report["frames"]} frames, '
        f'{report["size"]} px, batch {report["batch"]}, '
        f'{report["device"]} ({report["device_name"]})',
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
        lines.append(f'  plain ResNet-50: {r["images_per_s"]:.1f} images/s;'
                     f' ours {o["images_per_s"]:.1f} images/s = '
                     f'{report["fraction_of_resnet50"]:.2f}x of it')
    return '\n'.join(lines)


# ----------------------------------------------------------------- data --
# SSv2's size: height 240 (most videos 427 wide: 426, VP9 needs even), about
# 12 fps, 2-6 s; a textured background makes decoding cost what it costs on
# real footage.
BENCH_SET = dict(height=240, width=426, fps=12, min_seconds=2.0,
                 max_seconds=6.0, textured=True, num_test_per_class=0,
                 seed=0)


def bench_set(cache: str, num_train_per_class: int = 6,
              num_val_per_class: int = 3) -> str:
    """The benchmark's SSv2-sized synthetic set under ``cache``, made once.

    Returns:
        str: its root (official SSv2 layout); reused when its labels exist
        with enough videos.
    """
    from ..testing.synthetic_ssv2 import make_synthetic_ssv2
    root = osp.join(cache, 'ssv2_240p')
    stamp = osp.join(root, 'bench.json')
    want = dict(BENCH_SET, num_train_per_class=num_train_per_class,
                num_val_per_class=num_val_per_class)
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                return root
    _log(f'writing the benchmark videos to {root} (once)')
    make_synthetic_ssv2(root, overwrite=True, progress=False,
                        workers=max(1, min(4, os.cpu_count() or 1)), **want)
    write_json(stamp, want)
    return root


def _video_root(args: argparse.Namespace) -> str:
    """``--data-root`` if given (any SSv2-format set), else the bench set."""
    if args.data_root:
        if not osp.isfile(osp.join(args.data_root, 'labels', 'labels.json')):
            raise InputError(f'--data-root {args.data_root}: no '
                             'labels/labels.json (not an SSv2-format set)')
        return args.data_root
    return bench_set(args.cache)


def _data_setup(args: argparse.Namespace) -> tuple:
    """The config (its process settings applied, as training applies them)
    and the videos' root."""
    from mmengine.utils.dl_utils import set_multi_processing

    from ..utils.config import load_config
    _init_scope()
    cfg = load_config(args.config)
    mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
    set_multi_processing(**mp_cfg, distributed=False)
    return cfg, _video_root(args)


def stock_list_file(root: str, split: str, out_dir: str) -> str:
    """An mmaction2 ``VideoDataset`` list (``path label`` lines) of a split.

    mmaction2 reads SSv2 only through such a list (its
    ``tools/data/sthv2`` scripts write it); ours reads the JSON directly.
    """
    from ..datasets.ssv2 import SSv2Dataset
    ds = SSv2Dataset(ann_file=f'labels/{split}.json',
                     label_file='labels/labels.json', pipeline=[],
                     data_root=root,
                     data_prefix=dict(video='20bn-something-something-v2'),
                     test_mode=True)
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, f'stock_{split}_list.txt')
    with open(path, 'w') as f:
        for i in range(len(ds)):
            item = ds.get_data_info(i)
            f.write(f'{osp.basename(item["filename"])} {item["label"]}\n')
    return path


def _type(t) -> str:
    name = t.get('type', '') if isinstance(t, dict) else type(t).__name__
    return name if isinstance(name, str) else getattr(name, '__name__', '')


def decode_prefix(pipeline: Sequence[dict]) -> list:
    """The transforms up to and including the first ``*Decode`` one."""
    pipeline = list(pipeline)
    for i, t in enumerate(pipeline):
        if _type(t).endswith('Decode'):
            return pipeline[:i + 1]
    raise InputError('pipeline has no *Decode transform')


def _datasets(cfg, root: str, pipelines: Dict[str, list],
              stock_list: str) -> Dict[str, object]:
    """Our SSv2Dataset (recipe's dataset config) and mmaction2's
    VideoDataset over the same videos, one per named pipeline."""
    from mmaction.registry import DATASETS
    ours_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ours_cfg.update(data_root=root, ann_file='labels/train.json',
                    label_file='labels/labels.json',
                    data_prefix=dict(video='20bn-something-something-v2'))
    out = {}
    for name, pipeline in pipelines.items():
        if name.startswith('ours'):
            out[name] = DATASETS.build(dict(ours_cfg, pipeline=pipeline))
        else:
            out[name] = DATASETS.build(dict(
                type='VideoDataset', ann_file=stock_list,
                data_prefix=dict(video=osp.join(
                    root, '20bn-something-something-v2')),
                pipeline=pipeline))
    return out


def _cycle(dataset) -> Callable[[], None]:
    """A callable loading the next sample of ``dataset`` (wrapping)."""
    state = dict(i=0)

    def load():
        dataset[state['i'] % len(dataset)]
        state['i'] += 1

    return load


def _loader_rate(dataset, workers: int, batch: int) -> float:
    """Clips/s of a DataLoader pass, after each worker's first batch."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers,
                        collate_fn=pseudo_collate, shuffle=False)
    it = iter(loader)
    for _ in range(max(1, workers)):  # start-up: every worker's first batch
        next(it)
    start, clips = time.perf_counter(), 0
    for data in it:
        clips += len(data['inputs'])
    return clips / (time.perf_counter() - start)


def bench_data(args: argparse.Namespace) -> dict:
    """The ``data`` mode; returns the report."""
    cfg, root = _data_setup(args)
    stock_list = stock_list_file(root, 'train', args.cache)
    ours_pipeline = list(cfg.train_dataloader.dataset.pipeline)
    pipelines = {
        'ours': ours_pipeline,
        'mmaction2': STOCK_TRAIN_PIPELINE,
        'ours_decode': decode_prefix(ours_pipeline),
        'mmaction2_decode': decode_prefix(STOCK_TRAIN_PIPELINE),
    }
    datasets = _datasets(cfg, root, pipelines, stock_list)
    n = len(datasets['ours'])
    _log(f'data: {n} SSv2-sized videos (240p, 12 fps, 2-6 s, VP9) from '
         f'{root}; ours = {args.config} train_pipeline')
    times = round_robin({k: _cycle(d) for k, d in datasets.items()},
                        args.warmup, args.iters)
    sides = {}
    for name, ts in times.items():
        mean = sum(ts) / len(ts)
        sides[name] = dict(ms_per_clip=round(1000 * mean, 3),
                           clips_per_s=round(1 / mean, 3),
                           median_ms=round(1000 * statistics.median(ts), 3))
    workers = args.workers
    rates = {'ours': [], 'mmaction2': []}
    if workers > 0:
        for _ in range(args.rounds):
            for name in rates:
                rates[name].append(_loader_rate(datasets[name], workers,
                                                args.batch))
    report = dict(
        mode='data', device_name=describe_cpu(), config=args.config,
        videos=n, video_set=dict(BENCH_SET), warmup=args.warmup,
        iters=args.iters, workers=workers,
        ours=dict(sides['ours'], pipeline=[_type(t) for t in ours_pipeline]),
        mmaction2=dict(sides['mmaction2'],
                       pipeline=[_type(t) for t in STOCK_TRAIN_PIPELINE]),
        decode_floor=dict(ours=sides['ours_decode'],
                          mmaction2=sides['mmaction2_decode']),
        speedup=ratio(sides['ours'], sides['mmaction2'], 'clips_per_s'))
    report['ours']['transforms_ms'] = round(
        sides['ours']['ms_per_clip'] - sides['ours_decode']['ms_per_clip'], 3)
    report['mmaction2']['transforms_ms'] = round(
        sides['mmaction2']['ms_per_clip']
        - sides['mmaction2_decode']['ms_per_clip'], 3)
    if workers > 0:
        for name in rates:
            report[name][f'clips_per_s_{workers}_workers'] = round(
                statistics.median(rates[name]), 3)
        report['speedup_workers'] = round(
            statistics.median(rates['ours'])
            / statistics.median(rates['mmaction2']), 3)
    return report


def format_data(report: dict) -> str:
    o, s = report['ours'], report['mmaction2']
    fo, fs = report['decode_floor']['ours'], report['decode_floor'][
        'mmaction2']
    w = report['workers']
    lines = [
        f'data: training pipeline, 16 frames -> 16x3x224x224, '
        f'{report["videos"]} SSv2-sized videos ({report["device_name"]})',
        f'  ours     : {o["clips_per_s"]:7.2f} clips/s in one process '
        f'({o["ms_per_clip"]:.1f} ms/clip: decode {fo["ms_per_clip"]:.1f} + '
        f'transforms {o["transforms_ms"]:.1f})',
        f'  mmaction2: {s["clips_per_s"]:7.2f} clips/s in one process '
        f'({s["ms_per_clip"]:.1f} ms/clip: decode {fs["ms_per_clip"]:.1f} + '
        f'transforms {s["transforms_ms"]:.1f})',
        f'  speedup {report["speedup"]:.2f}x (one process)',
    ]
    if w > 0:
        lines.append(
            f'  with {w} loader workers: ours '
            f'{o[f"clips_per_s_{w}_workers"]:.2f} clips/s, mmaction2 '
            f'{s[f"clips_per_s_{w}_workers"]:.2f} clips/s, speedup '
            f'{report["speedup_workers"]:.2f}x')
    lines.append(f'  decode floor (decoding alone): ours '
                 f'{fo["clips_per_s"]:.2f} clips/s, mmaction2 '
                 f'{fs["clips_per_s"]:.2f} clips/s')
    return '\n'.join(lines)


# ------------------------------------------------------------------ tfd --
def stock_test_pipeline(pipeline: Sequence[dict]) -> list:
    """The config's test pipeline as mmaction2 alone would run it.

    Our decoding steps become decord's (``DecordInit``, ``SampleFrames``
    with ``clip_len=1, test_mode=True`` and the same ``num_clips``,
    ``DecordDecode``) and a ``FusedCropResize`` is unfolded into the stock
    transforms it fuses; the rest is kept. Same frames, same output size.
    """
    out = []
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        name = _type(t)
        if name == 'VideoInit':
            out.append(dict(type='DecordInit'))
        elif name == 'SegmentSampleFrames':
            out.append(dict(type='SampleFrames', clip_len=1, frame_interval=1,
                            num_clips=t.get('num_clips', 16),
                            test_mode=True))
        elif name == 'VideoDecode':
            out.append(dict(type='DecordDecode'))
        elif name == 'FusedCropResize':
            out.extend(copy.deepcopy(list(t['transforms'])))
        else:
            out.append(t)
    return out


def _set_test_pipeline(cfg, pipeline: list) -> None:
    from ..utils.config import iter_datasets
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            for ds in iter_datasets({f'{stage}_dataloader': loader},
                                    (f'{stage}_dataloader', )):
                ds['pipeline'] = copy.deepcopy(pipeline)


def _test_pipeline(cfg) -> list:
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            return list(loader['dataset']['pipeline'])
    raise InputError('config has no test_dataloader / val_dataloader')


def _tfd_checkpoint(cfg, cache: str, config: str) -> str:
    """A checkpoint of the config's model, from scratch (timing does not
    depend on the weights); written once under ``cache``."""
    import torch
    from mmaction.registry import MODELS
    name = osp.splitext(osp.basename(config))[0]
    path = osp.join(cache, f'tfd_{name}.pth')
    if not osp.isfile(path):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone.pretrained = None
        with _quiet_init_logs():
            model = MODELS.build(model_cfg)
            model.init_weights()
        os.makedirs(cache, exist_ok=True)
        torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def bench_tfd(args: argparse.Namespace) -> dict:
    """The ``tfd`` mode; returns the report."""
    from mmaction.registry import MODELS
    from mmengine.runner import load_checkpoint

    from ..evaluation import sweep_model
    from ..utils.config import set_data_root, set_loader_option
    cfg, root = _data_setup(args)
    set_data_root(cfg, root)
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        if loader:
            loader['dataset'].update(ann_file='labels/validation.json',
                                     label_file='labels/labels.json')
    if args.workers is not None:
        set_loader_option(cfg, 'num_workers', args.workers)
    checkpoint = args.checkpoint or _tfd_checkpoint(cfg, args.cache,
                                                    args.config)
    if not osp.isfile(checkpoint):
        raise InputError(f'checkpoint not found: {checkpoint}')
    stock_cfg = copy.deepcopy(cfg)
    _set_test_pipeline(stock_cfg, stock_test_pipeline(_test_pipeline(cfg)))

    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pretrained = None
    with _quiet_init_logs():
        model = MODELS.build(model_cfg)
        load_checkpoint(model, checkpoint, map_location='cpu',
                        logger='silent')
    frames = list(args.frames)
    _log(f'tfd: {args.config}, frames {frames}, validation videos of '
         f'{root}; ours decode once, mmaction2 one evaluation per count')
    runs = {'ours': [], 'mmaction2': [], 'ours_one_eval': []}
    results = {}
    for _ in range(args.rounds):
        for name in runs:
            start = time.perf_counter()
            if name == 'ours':
                rep = sweep_model(model, cfg, frames, decode_once=True,
                                  logger='silent')
            elif name == 'mmaction2':
                rep = sweep_model(model, stock_cfg, frames,
                                  decode_once=False, logger='silent')
            else:  # one evaluation at the trained count, our pipeline
                rep = sweep_model(model, cfg, [frames[-1]],
                                  decode_once=False, logger='silent')
            runs[name].append(time.perf_counter() - start)
            results[name] = {r['frames']: round(100 * r['top1'], 2)
                             for r in rep['results']}
    ours_s = statistics.median(runs['ours'])
    stock_s = statistics.median(runs['mmaction2'])
    one_s = statistics.median(runs['ours_one_eval'])
    return dict(
        mode='tfd', device_name=describe_cpu(), config=args.config,
        checkpoint=checkpoint, frames=frames, rounds=args.rounds,
        ours=dict(seconds=round(ours_s, 3), times=runs['ours'],
                  top1=results['ours'], path='decode once, all counts'),
        mmaction2=dict(seconds=round(stock_s, 3), times=runs['mmaction2'],
                       top1=results['mmaction2'],
                       path=f'{len(frames)} separate evaluations, stock '
                       'pipeline'),
        one_evaluation=dict(seconds=round(one_s, 3),
                            frames=frames[-1]),
        speedup=round(stock_s / ours_s, 3),
        sweep_over_one_evaluation=round(ours_s / one_s, 3),
        separate_over_one_evaluation=round(stock_s / one_s, 3))


def format_tfd(report: dict) -> str:
    o, s = report['ours'], report['mmaction2']
    one = report['one_evaluation']
    return '\n'.join([
        f'tfd: sweep over {report["frames"]} frames, one checkpoint '
        f'({report["config"]}; {report["device_name"]})',
        f'  ours     : {o["seconds"]:.2f} s  ({o["path"]}); top-1 {o["top1"]}',
        f'  mmaction2: {s["seconds"]:.2f} s  ({s["path"]}); top-1 '
        f'{s["top1"]}',
        f'  one evaluation at {one["frames"]} frames: {one["seconds"]:.2f} s '
        f'-> sweep = {report["sweep_over_one_evaluation"]:.2f}x, separate '
        f'= {report["separate_over_one_evaluation"]:.2f}x of it',
        f'  speedup {report["speedup"]:.2f}x',
    ])


# ----------------------------------------------------------------- CLI --
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description='Benchmark ours against mmaction2 (same inputs, one run).')
    sub = p.add_subparsers(dest='mode', required=True)

    def common(q):
        q.add_argument('--json', metavar='PATH',
                       help='also write the report as JSON')
        q.add_argument('--warmup', type=int, default=None,
                       help='untimed iterations first')
        q.add_argument('--iters', type=int, default=None,
                       help='timed iterations (median reported)')

    m = sub.add_parser('model', help='one training step, ours vs stock')
    common(m)
    m.add_argument('--config', default=DEFAULT_CONFIG,
                   help='the recipe (its model, optimizer, precision)')
    m.add_argument('--device', default='auto',
                   help='cpu, cuda, cuda:1 ... (default: cuda if available)')
    m.add_argument('--amp', choices=['none', 'bf16', 'fp16'], default=None,
                   help="our precision (default: the recipe's, 'auto' = bf16"
                   ' where the hardware is fast at it)')
    m.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                   default=None, help="our memory format (default: the "
                   "recipe's, 'auto' = where bf16 is fast)")
    m.add_argument('--batch', type=int, default=None,
                   help="clips per step (default: 1 on CPU, the recipe's "
                   'batch on CUDA)')
    m.add_argument('--frames', type=int, default=16)
    m.add_argument('--size', type=int, default=224)
    m.add_argument('--threads', type=int, default=None,
                   help="CPU threads for torch (default: torch's, all cores)")
    m.add_argument('--compile', action='store_true',
                   help='torch.compile our backbone (slow first steps)')
    d = sub.add_parser('data', help='training pipeline clips/s, ours vs '
                       'stock')
    common(d)
    d.add_argument('--config', default=DEFAULT_CONFIG,
                   help='the recipe (its train_pipeline is ours)')
    d.add_argument('--cache', default=DEFAULT_CACHE,
                   help='where the SSv2-sized videos are written (once)')
    d.add_argument('--data-root', help='an SSv2-format set to read instead '
                   'of the SSv2-sized synthetic one')
    d.add_argument('--workers', type=int, default=None,
                   help='loader workers for the multi-process figure '
                   '(default: CPU count; 0 skips it)')
    d.add_argument('--rounds', type=int, default=2,
                   help='loader passes per side (median)')
    d.add_argument('--batch', type=int, default=4,
                   help='clips per loader batch')
    t = sub.add_parser('tfd', help='TFD sweep wall time, ours vs stock')
    t.add_argument('--json', metavar='PATH',
                   help='also write the report as JSON')
    t.add_argument('--config', default=DEMO_CONFIG,
                   help='config of the checkpoint (default: the demo)')
    t.add_argument('--checkpoint', help='checkpoint to sweep (default: the '
                   "config's model from scratch, saved under --cache)")
    t.add_argument('--cache', default=DEFAULT_CACHE,
                   help='where the SSv2-sized videos are written (once)')
    t.add_argument('--data-root', help='an SSv2-format set to read instead '
                   'of the SSv2-sized synthetic one')
    t.add_argument('--frames', nargs='+', type=int, default=list(TFD_FRAMES))
    t.add_argument('--workers', type=int, default=None,
                   help="dataloader workers (default: the config's)")
    t.add_argument('--rounds', type=int, default=1,
                   help='repetitions of each (median)')
    return p


DEFAULTS = {
    # 2 + 5 round-robin steps of ~0.8 + 2.2 + 2.1 s on a 2-core CPU: ~40 s.
    'model': dict(warmup=2, iters=5),
    # 4 x (4 + 60) loads of ~25 ms, then 2 x 2 loader passes over 60 videos.
    'data': dict(warmup=4, iters=60),
    'tfd': dict(),
}


def run(args: argparse.Namespace) -> dict:
    """Run the mode ``args.mode``; print and optionally save the report."""
    for key, value in DEFAULTS[args.mode].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.mode != 'tfd' and (args.warmup < 0 or args.iters < 1):
        raise InputError('--warmup must be >= 0 and --iters >= 1')
    if args.mode == 'model':
        if (args.batch is not None and args.batch < 1) or args.frames < 1 \
                or args.size < 32:
            raise InputError('--batch and --frames must be >= 1, --size '
                             '>= 32')
        report = bench_model(args)
        text = format_model(report)
    elif args.mode == 'data':
        if args.workers is None:
            args.workers = os.cpu_count() or 1
        if args.workers < 0 or args.batch < 1 or args.rounds < 1:
            raise InputError('--workers must be >= 0, --batch and --rounds '
                             '>= 1')
        report = bench_data(args)
        text = format_data(report)
    else:
        from ..utils.config import check_frames
        args.frames = check_frames(args.frames)
        if args.rounds < 1:
            raise InputError('--rounds must be >= 1')
        report = bench_tfd(args)
        text = format_tfd(report)
    sys.stdout.write(text + '\n')
    if args.json:
        write_json(args.json, report)
        _log(f'wrote {args.json}')
    return report


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(run, args)
