"""An OptimWrapper that trains under autocast on any device, CPU included.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA, so it
cannot give a CPU with AMX its bf16 speed. :class:`AutocastOptimWrapper`
enters ``torch.autocast`` in ``optim_context`` (the forward pass of
``train_step``) on the device the parameters live on, with the precision
the config asks for; ``'auto'`` resolves to bf16 where the hardware is fast
at it and fp32 elsewhere (:mod:`tsm_plugin.engine.precision`). bf16 needs no
loss scaling; fp16 gets a ``torch.amp.GradScaler`` as AmpOptimWrapper does.

Config (``optim_wrapper`` of the schedule)::

    optim_wrapper = dict(type='AutocastOptimWrapper', precision='auto', ...)
"""

import contextlib
from typing import Optional, Union

import torch
import torch.nn as nn
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from .precision import (
    autocast,
    fp32_head_output,
    precision_name,
    resolve_dtype,
)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast``.

    Args:
        optimizer (Optimizer): The optimizer (built by the constructor).
        precision (str): ``'auto'`` (bf16 on CUDA with bf16 and on CPUs with
            AMX, else fp32), ``'bf16'``, ``'fp16'`` or ``'fp32'``. Defaults
            to ``'auto'``.
        loss_scale (str | float | dict): fp16 only: ``'dynamic'``, an
            initial scale, or ``GradScaler`` kwargs. Defaults to
            ``'dynamic'``.
        **kwargs: ``OptimWrapper``'s (``clip_grad``, ``accumulative_counts``).

    Attributes:
        dtype (torch.dtype | None): the autocast dtype; None for fp32.
        device_type (str): the parameters' device type.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        precision: str = 'auto',
        loss_scale: Union[str, float, dict] = 'dynamic',
        **kwargs,
    ) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        params = [p for g in optimizer.param_groups for p in g['params']]
        self.device_type = params[0].device.type if params else 'cpu'
        self.precision = precision
        self.dtype: Optional[torch.dtype] = resolve_dtype(
            precision, self.device_type
        )
        self.loss_scaler = None
        if self.dtype is torch.float16:
            if loss_scale == 'dynamic':
                scaler_kwargs = {}
            elif isinstance(loss_scale, (int, float)):
                scaler_kwargs = dict(init_scale=float(loss_scale))
            elif isinstance(loss_scale, dict):
                scaler_kwargs = dict(loss_scale)
            else:
                raise TypeError(
                    'loss_scale must be "dynamic", a float or a '
                    f'dict, got {loss_scale!r}'
                )
            self.loss_scaler = torch.amp.GradScaler(
                self.device_type, **scaler_kwargs
            )
        print_log(
            f'AutocastOptimWrapper: precision={precision!r} -> '
            f'{precision_name(self.dtype)} on {self.device_type}',
            logger='current',
        )

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context plus autocast for the forward.

        Under autocast the model's ``cls_head`` returns fp32 scores (see
        :func:`~tsm_plugin.engine.precision.fp32_head_output`).
        """
        if self.dtype is not None:
            fp32_head_output(model)
        with (
            super().optim_context(model),
            autocast(self.device_type, self.dtype),
        ):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Backward, scaling the loss when training in fp16."""
        if self.loss_scaler is None:
            super().backward(loss, **kwargs)
            return
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        """Step; in fp16 unscale first (clipping sees true gradients)."""
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()

    def state_dict(self) -> dict:
        """The optimizer's state, plus the loss scaler's in fp16."""
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by any OptimWrapper (a scaler state is kept
        only when this wrapper scales)."""
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if self.loss_scaler is not None and scaler_state is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)
