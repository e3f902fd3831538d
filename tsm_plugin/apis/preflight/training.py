"""The training checks: the model, one training step, a checkpoint.

The step runs as :meth:`mmengine.model.BaseModel.train_step` runs it, inside
``optim_wrapper.optim_context`` (where
:class:`~tsm_plugin.engine.optim_wrapper.AutocastOptimWrapper` enters
autocast in the recipe's precision) with the config's data preprocessor;
the checkpoint is written and read by :mod:`tsm_plugin.engine.checkpoint`,
shaped as ``Runner.save_checkpoint`` shapes it.
"""

import copy
import os
import os.path as osp
import time
from typing import List

import mmengine
import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import weights_to_cpu
from mmengine.utils import apply_to

from ...engine.checkpoint import load_checkpoint_file, save_checkpoint_file
from ...engine.precision import precision_name
from ...utils.device import device_type_of
from .context import Context, StepResult
from .rows import Row, Skip, Status

NO_STEP = 'no model or no training data'


def check_model(ctx: Context) -> List[Row]:
    """The model builds and its pretrained weights load."""
    ctx.model  # noqa: B018 - built here, so a failure is this check's row
    name = 'pretrained weights'
    if not ctx.pretrained:
        return [Row(name, Status.SKIP, 'none configured (from scratch)')]
    if ctx.pretrained_error:
        return [
            Row(name, Status.FAIL, f'{ctx.pretrained}: {ctx.pretrained_error}')
        ]
    return [Row(name, Status.PASS, f'{ctx.pretrained} loaded')]


def memory_format(inputs: torch.Tensor) -> str:
    """``'channels_last'`` if the frames of ``(..., C, H, W)`` inputs are
    laid out NHWC, else ``'NCHW'``."""
    if inputs.dim() < 4:
        return 'NCHW'
    frames = inputs.reshape(-1, *inputs.shape[-3:])
    if (
        frames.is_contiguous(memory_format=torch.channels_last)
        and not frames.is_contiguous()
    ):
        return 'channels_last'
    return 'NCHW'


def autocast_precision(device: str) -> str:
    """The precision autocast computes in now on ``device`` ('fp32' off)."""
    kind = device_type_of(device)
    if not torch.is_autocast_enabled(kind):
        return 'fp32'
    return precision_name(torch.get_autocast_dtype(kind))


def check_step(ctx: Context, device: str) -> List[Row]:
    """One training step of the real batch on ``device``, as training runs
    it; the loss and the gradients are finite."""
    if 'train_dataloader' not in ctx.datasets:
        raise Skip(NO_STEP)
    model = copy.deepcopy(ctx.require('model', NO_STEP)).to(device)
    batch = copy.deepcopy(ctx.batch)
    model.train()
    optim = build_optim_wrapper(model, copy.deepcopy(ctx.cfg.optim_wrapper))
    name = f'forward+backward ({device})'
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    start = time.time()
    with optim.optim_context(model):
        data = model.data_preprocessor(batch, True)
        precision = autocast_precision(device)
        losses = model._run_forward(data, mode='loss')
    loss, log_vars = model.parse_losses(losses)
    optim.backward(loss)
    bad_grads = [
        n
        for n, p in model.named_parameters()
        if p.grad is not None and not torch.isfinite(p.grad).all()
    ]
    if not torch.isfinite(loss) or bad_grads:
        return [
            Row(
                name,
                Status.FAIL,
                f'loss {loss.item():.4g}, '
                f'non-finite gradients in {bad_grads[:3]} ({precision})',
            )
        ]
    optim.step()
    optim.zero_grad()
    took = time.time() - start
    shape = 'x'.join(map(str, data['inputs'].shape))
    extra = ''
    if device.startswith('cuda'):
        extra = f', peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB'
    ctx.trained[device] = StepResult(model, optim, log_vars)
    return [
        Row(
            name,
            Status.PASS,
            f'loss {loss.item():.4f}, {took:.2f} s, input {shape}, '
            f'{precision}, {memory_format(data["inputs"])}{extra}',
        )
    ]


def checkpoint_of(ctx: Context, step: StepResult) -> dict:
    """The checkpoint ``Runner.save_checkpoint`` would write after the
    step: meta, CPU weights, optimizer state, message hub."""
    hub = MessageHub.get_instance(f'preflight_{os.getpid()}')
    for key, value in step.log_vars.items():  # as RuntimeInfoHook logs
        hub.update_scalar(f'train/{key}', value)
    for key, lrs in step.optim_wrapper.get_lr().items():
        hub.update_scalar(f'train/{key}', lrs[0])
    hub.update_info('epoch', 0)
    hub.update_info('iter', 1)
    train = ctx.datasets['train_dataloader']
    seed = ctx.cfg.get('randomness', {}).get('seed')
    meta = dict(
        epoch=0,
        iter=1,
        cfg=ctx.cfg.pretty_text,
        seed=ctx.args.seed if seed is None else seed,
        experiment_name=f'preflight_{os.getpid()}',
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
        mmengine_version=mmengine.__version__,
        dataset_meta=train.metainfo,
    )
    on_cpu = (lambda x: hasattr(x, 'cpu'), lambda x: x.cpu())
    return dict(
        meta=meta,
        state_dict=weights_to_cpu(step.model.state_dict()),
        message_hub=apply_to(hub.state_dict(), *on_cpu),
        optimizer=apply_to(step.optim_wrapper.state_dict(), *on_cpu),
    )


def differences(saved, loaded, where: str = 'checkpoint') -> List[str]:
    """Where ``loaded`` differs from ``saved`` (tensors bit for bit)."""
    if torch.is_tensor(saved):
        same = (
            torch.is_tensor(loaded)
            and saved.dtype == loaded.dtype
            and saved.shape == loaded.shape
            and torch.equal(saved, loaded)
        )
    elif isinstance(saved, np.ndarray):
        same = (
            np.array_equal(saved, loaded)
            and getattr(loaded, 'dtype', None) == saved.dtype
        )
    elif isinstance(saved, dict):
        if not isinstance(loaded, dict) or saved.keys() != loaded.keys():
            return [where]
        return [
            d
            for k in saved
            for d in differences(saved[k], loaded[k], f'{where}.{k}')
        ]
    elif isinstance(saved, (list, tuple)):
        if not isinstance(loaded, (list, tuple)) or len(saved) != len(loaded):
            return [where]
        return [
            d
            for i, (s, o) in enumerate(zip(saved, loaded))
            for d in differences(s, o, f'{where}[{i}]')
        ]
    elif hasattr(saved, '__dict__') and not callable(saved):
        # An object (HistoryBuffer): its state as pickled.
        if type(loaded) is not type(saved):
            return [where]
        return differences(saved.__getstate__(), loaded.__getstate__(), where)
    else:
        same = type(saved) is type(loaded) and saved == loaded
    return [] if same else [where]


def check_checkpoint(ctx: Context) -> List[Row]:
    """The CPU step's checkpoint saves atomically and reloads (weights-only
    loader) identical to what was saved."""
    step = ctx.trained.get('cpu')
    if step is None:
        raise Skip('no CPU training step')
    ckpt = checkpoint_of(ctx, step)
    path = osp.join(ctx.work_dir, f'preflight_{os.getpid()}.pth')
    try:
        save_checkpoint_file(ckpt, path)
        size = osp.getsize(path)
        back = load_checkpoint_file(path, map_location='cpu')
    finally:
        if osp.exists(path):
            os.remove(path)
    diff = differences(ckpt, back)
    if diff:
        return [
            Row('checkpoint save/reload', Status.FAIL, f'differs: {diff[:5]}')
        ]
    return [
        Row(
            'checkpoint save/reload',
            Status.PASS,
            f'{len(ckpt["state_dict"])} tensors + optimizer + message '
            f'hub identical ({size / 2**20:.1f} MiB, atomic write, '
            'weights_only load)',
        )
    ]
