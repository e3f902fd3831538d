"""Validation and test under the same autocast as training.

mmengine 0.10.7's ``ValLoop``/``TestLoop`` only know ``fp16=True`` (fp16 on
CUDA, bf16 on CPU, whatever the hardware is fast at). This hook wraps the
runner's model's ``val_step`` and ``test_step`` in ``torch.autocast`` with
the precision training uses, and hands the evaluator fp32 scores (mmaction2's
``AccMetric`` cannot read bf16 tensors). By default it follows
``optim_wrapper.precision`` of an
:class:`~tsm_plugin.engine.optim_wrapper.AutocastOptimWrapper` (built, or
still a config dict in a test-only run), so one config value sets both.

Config (``custom_hooks``)::

    custom_hooks = [dict(type='EvalAutocastHook')]
"""

from typing import Optional, Tuple

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...utils.device import device_of
from ..precision import (
    autocast,
    fp32_head_output,
    precision_name,
    resolve_dtype,
    scores_to_float32,
)


@HOOKS.register_module()
class EvalAutocastHook(Hook):
    """Run ``val_step``/``test_step`` under ``torch.autocast``.

    Args:
        precision (str, optional): ``'auto'``, ``'bf16'``, ``'fp16'`` or
            ``'fp32'`` (see :mod:`tsm_plugin.engine.precision`). None (the
            default) follows the runner's ``AutocastOptimWrapper``; fp32
            if the optim wrapper is another type.
    """

    priority = 'NORMAL'

    def __init__(self, precision: Optional[str] = None) -> None:
        if precision is not None:
            resolve_dtype(precision, 'cpu')  # a bad value fails at build
        self.precision = precision
        self._logged = set()

    def _precision(self, runner) -> str:
        if self.precision is not None:
            return self.precision
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, dict):  # not built (test-only run)
            if wrapper.get('type') == 'AutocastOptimWrapper':
                return wrapper.get('precision', 'auto')
            return 'fp32'
        return getattr(wrapper, 'precision', 'fp32')

    def _dtype(self, runner) -> Tuple[Optional[torch.dtype], torch.device]:
        device = device_of(runner.model)
        dtype = resolve_dtype(self._precision(runner), device)
        if device not in self._logged:
            self._logged.add(device)
            print_log(
                f'EvalAutocastHook: evaluating in '
                f'{precision_name(dtype)} on {device}',
                logger='current',
            )
        return dtype, device

    def before_run(self, runner) -> None:
        """Wrap the model's ``val_step`` and ``test_step`` (once)."""
        model = runner.model
        if getattr(model, '_eval_autocast_hook', None) is self:
            return
        fp32_head_output(model)
        for name in ('val_step', 'test_step'):
            original = getattr(model, name)

            def step(data, _original=original):
                dtype, device = self._dtype(runner)
                if dtype is None:
                    return _original(data)
                with autocast(device, dtype):
                    outputs = _original(data)
                return scores_to_float32(outputs)

            setattr(model, name, step)
        model._eval_autocast_hook = self
