"""An OptimWrapper that trains under autocast on any device, CPU included.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA, so it
cannot give a CPU with AMX its bf16 speed. :class:`AutocastOptimWrapper`
enters ``torch.autocast`` in ``optim_context`` (the forward pass of
``train_step``) on the device the parameters live on, with the precision
the config asks for; ``'auto'`` picks it by the hardware
(:mod:`tsm_plugin.engine.precision`: bf16 where native, fp16 on CUDA 7.x,
fp32 elsewhere) and logs the choice and its reason in one line.

bf16 needs no loss scaling. fp16 runs ``AmpOptimWrapper``'s own
``backward``/``step``/state methods on a ``torch.amp.GradScaler`` of the
parameters' device: the loss is scaled, the gradients are unscaled before
clipping (``clip_grad`` acts on true gradients), and a step whose gradients
overflowed is skipped and the scale lowered. Such a step's loss is finite, so
:class:`~tsm_plugin.engine.hooks.non_finite_loss_hook.NonFiniteLossHook`
lets it pass; the wrapper logs the scale (``loss_scale``) and counts skipped
steps in a row (message hub info :data:`SKIPPED_IN_A_ROW`).

Config (``optim_wrapper`` of the schedule)::

    optim_wrapper = dict(type='AutocastOptimWrapper', precision='auto', ...)
"""

import contextlib
from typing import Optional, Union

import torch
import torch.nn as nn
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from .precision import (
    autocast,
    fp32_head_output,
    precision_name,
    resolve_precision,
)

#: Message hub info: fp16 steps the scaler skipped in a row (0 after a step
#: that updated the weights).
SKIPPED_IN_A_ROW = 'fp16_skipped_steps_in_a_row'


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(AmpOptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast``.

    Args:
        optimizer (Optimizer): The optimizer (built by the constructor).
        precision (str): ``'auto'`` (by the hardware, see
            :mod:`tsm_plugin.engine.precision`), ``'bf16'``, ``'fp16'`` or
            ``'fp32'``. Defaults to ``'auto'``.
        loss_scale (str | float | dict): fp16 only, as ``AmpOptimWrapper``:
            ``'dynamic'``, a static scale, or ``GradScaler`` kwargs.
            Defaults to ``'dynamic'``.
        **kwargs: ``OptimWrapper``'s (``clip_grad``, ``accumulative_counts``).

    Attributes:
        dtype (torch.dtype | None): the autocast dtype; None for fp32.
        device_type (str): the parameters' device type.
        loss_scaler (torch.amp.GradScaler | None): fp16 only.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        precision: str = 'auto',
        loss_scale: Union[str, float, dict] = 'dynamic',
        **kwargs,
    ) -> None:
        # AmpOptimWrapper.__init__ asserts a GPU; its methods are used as is.
        OptimWrapper.__init__(self, optimizer=optimizer, **kwargs)
        params = [p for g in optimizer.param_groups for p in g['params']]
        device = params[0].device if params else torch.device('cpu')
        self.device_type = device.type
        self.precision = precision
        self.dtype: Optional[torch.dtype]
        self.dtype, why = resolve_precision(precision, device)
        self.cast_dtype = self.dtype
        self._scale_update_param = None
        self.loss_scaler = None
        self._skipped_in_a_row = 0
        if self.dtype is torch.float16:
            self.loss_scaler = self._grad_scaler(loss_scale)
        scaling = ''
        if self.loss_scaler is not None:
            scaling = (
                ' with static loss scaling'
                if self._scale_update_param is not None
                else ' with dynamic loss scaling'
            )
        print_log(
            f'Precision: {precision_name(self.dtype)}{scaling} on {device} '
            f'(precision={precision!r}: {why})',
            logger='current',
        )

    def _grad_scaler(self, loss_scale) -> torch.amp.GradScaler:
        """A ``GradScaler`` on the parameters' device, configured as
        ``AmpOptimWrapper`` configures its CUDA one."""
        if loss_scale == 'dynamic':
            kwargs = {}
        elif isinstance(loss_scale, (int, float)):
            self._scale_update_param = float(loss_scale)  # static
            kwargs = dict(init_scale=float(loss_scale))
        elif isinstance(loss_scale, dict):
            kwargs = dict(loss_scale)
        else:
            raise TypeError(
                f'loss_scale must be "dynamic", a float or a dict, got '
                f'{loss_scale!r}'
            )
        return torch.amp.GradScaler(self.device_type, **kwargs)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context plus autocast for the forward.

        Under autocast the model's ``cls_head`` returns fp32 scores (see
        :func:`~tsm_plugin.engine.precision.fp32_head_output`).
        """
        if self.dtype is not None:
            fp32_head_output(model)
        with (
            OptimWrapper.optim_context(self, model),
            autocast(self.device_type, self.dtype),
        ):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Backward; the loss scaled in fp16 (``AmpOptimWrapper``'s)."""
        if self.loss_scaler is None:
            OptimWrapper.backward(self, loss, **kwargs)
        else:
            super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Step; in fp16 ``AmpOptimWrapper``'s: unscale, clip, step unless
        the gradients overflowed, update the scale."""
        if self.loss_scaler is None:
            OptimWrapper.step(self, **kwargs)
            return
        before = self.loss_scaler.get_scale()
        super().step(**kwargs)
        after = self.loss_scaler.get_scale()
        # The dynamic scaler halves its scale exactly when it skips a step.
        skipped = self._scale_update_param is None and after < before
        self._skipped_in_a_row = self._skipped_in_a_row + 1 if skipped else 0
        self.message_hub.update_scalar('train/loss_scale', after)
        self.message_hub.update_info(SKIPPED_IN_A_ROW, self._skipped_in_a_row)

    def state_dict(self) -> dict:
        """The optimizer's state, plus the loss scaler's in fp16."""
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by any OptimWrapper (a scaler state is kept
        only when this wrapper scales)."""
        state_dict = dict(state_dict)
        if self.loss_scaler is None:
            state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)
