"""Training as the check runs it: the recipe's Runner on a video set
(shrunk for the dry run), and what a bare GPU machine's Python needs for it
(distutils, TensorBoard). A DataLoader's clips/s is the data benchmark's
(:func:`benchmarks._data.loader_rate`)."""

import math
import os.path as osp
from typing import List, Optional

import torch


def ensure_distutils() -> str:
    """Make ``distutils`` importable; returns where it comes from.

    mmengine's Runner imports it as it starts (``collect_env``), and
    Python 3.12 has it no more: a Python whose setuptools is not installed
    in site-packages (its ``.pth`` hook) fails there. Importing setuptools
    (a fetched wheel, where the machine has none) puts it back.
    """
    import importlib.util

    if importlib.util.find_spec('distutils') is None:
        import setuptools  # noqa: F401  (registers its distutils)
    import distutils

    return osp.dirname(distutils.__file__)


def drop_missing_tensorboard(cfg) -> List[str]:
    """Without the ``tensorboard`` package, the config's TensorBoard
    backends are left out (the timings do not depend on them); returns
    their names."""
    import importlib.util

    from tsm_plugin.utils.config import type_name

    vis = cfg.get('visualizer') or {}
    backends = list(vis.get('vis_backends') or [])
    if importlib.util.find_spec('tensorboard') is not None:
        return []
    keep = [b for b in backends if 'Tensorboard' not in type_name(b)]
    vis['vis_backends'] = keep
    return [type_name(b) for b in backends if b not in keep]


def shrink_crops(pipeline: list, size: int) -> None:
    """Crop ``size`` instead of 224 in ``pipeline`` (in place; fused
    transforms included): the dry run's training at a fraction of the
    cost, through the recipe's transforms."""
    for t in pipeline:
        if not isinstance(t, dict):
            continue
        if t.get('input_size') == 224:
            t['input_size'] = size
        if tuple(t.get('scale') or ()) == (224, 224):
            t['scale'] = (size, size)
        if tuple(t.get('scale') or ()) == (-1, 256):
            t['scale'] = (-1, size * 8 // 7)
        shrink_crops(t.get('transforms') or [], size)


def _train_cfg(recipe: str, root: str, videos: int, work_dir: str, s: dict):
    """The recipe's config for ``s['train_iters']`` iterations on ``root``
    (through ``tools/train.py``'s own flags), and its epochs."""
    from tsm_plugin.apis import train as train_api
    from tsm_plugin.utils.config import load_config

    options = [
        # no download: the figures do not depend on the weights
        'model.backbone.pretrained=None',
        f'default_hooks.logger.interval={s["log_interval"]}',
        'default_hooks.checkpoint.interval=1000000',
        'default_hooks.checkpoint.save_last=False',
        *s['train_options'],
    ]
    args = train_api.build_parser().parse_args(
        [recipe, '--work-dir', work_dir, '--data-root', root]
        + ['--no-validate', '--seed', '0', '--cfg-options', *options]
    )
    cfg = load_config(args.config, args.cfg_options)
    per_epoch = math.ceil(videos / int(cfg.train_dataloader.batch_size))
    args.epochs = max(1, math.ceil(s['train_iters'] / per_epoch))
    cfg = train_api.merge_args(cfg, args)
    if s['train_crop']:
        shrink_crops(cfg.train_dataloader.dataset.pipeline, s['train_crop'])
    return cfg, args.epochs


def train_recipe(
    root: str, videos: int, work_dir: str, s: dict, recipe: str
) -> dict:
    """Train ``recipe`` by mmengine's Runner on the set ``root`` (``videos``
    training videos) at the sizes ``s``; its figures.

    Returns:
        dict: clips/s and seconds per iteration after ``s['train_warmup']``
        iterations, the share of time spent waiting for data (mmengine's
        ``data_time`` over ``time``), every iteration's times, the
        precision the optim wrapper trained in, the loader's settings.
    """
    from mmengine.runner import Runner

    from tsm_plugin.engine.hooks import shutdown_workers

    ensure_distutils()
    cfg, epochs = _train_cfg(recipe, root, videos, work_dir, s)
    dropped = drop_missing_tensorboard(cfg)
    threads = torch.get_num_threads()
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    finally:
        shutdown_workers(getattr(runner._train_loop, 'dataloader', None))
        torch.set_num_threads(threads)  # the thread policy's change
    hub = runner.message_hub
    data = [float(x) for x in hub.get_scalar('train/data_time').data[0]]
    total = [float(x) for x in hub.get_scalar('train/time').data[0]]
    warm = min(s['train_warmup'], max(0, len(total) - 1))
    steady = sum(total[warm:])
    batch = int(cfg.train_dataloader.batch_size)
    return dict(
        dropped_vis_backends=dropped,
        config=recipe,
        iterations=len(total),
        epochs=epochs,
        batch=batch,
        num_workers=cfg.train_dataloader.num_workers,
        num_frames=int(cfg.num_frames),
        precision=_wrapper_precision(runner),
        warmup_iterations=warm,
        clips_per_s=round(batch * (len(total) - warm) / steady, 2),
        seconds_per_iter=round(steady / (len(total) - warm), 4),
        data_wait_share=round(sum(data[warm:]) / steady, 3),
        data_wait_share_all=round(sum(data) / sum(total), 3),
        data_time=[round(x, 4) for x in data],
        time=[round(x, 4) for x in total],
        extra_scalars=_wait_scalars(hub),
        work_dir=work_dir,
    )


def _wrapper_precision(runner) -> Optional[str]:
    from tsm_plugin.engine.precision import precision_name

    dtype = getattr(runner.optim_wrapper, 'dtype', 'n/a')
    return precision_name(dtype) if dtype != 'n/a' else None


def _wait_scalars(hub) -> dict:
    """Means of the training scalars about waiting for data other than
    mmengine's own (a data-wait hook's, where the recipe has one)."""
    out = {}
    for key, buf in hub.log_scalars.items():
        if 'wait' in key or 'clips_per_s' in key:
            values = buf.data[0]
            if len(values):
                out[key] = round(float(sum(values) / len(values)), 4)
    return out
