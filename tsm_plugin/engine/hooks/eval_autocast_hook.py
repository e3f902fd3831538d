"""Validation in the training precision, tests in fp32 unless told.

mmengine 0.10.7's ``ValLoop``/``TestLoop`` only know ``fp16=True`` (fp16 on
CUDA, bf16 on CPU, whatever the hardware is fast at). This hook wraps the
runner's model's ``val_step`` and ``test_step`` in ``torch.autocast`` and
hands the evaluator fp32 scores (mmaction2's ``AccMetric`` cannot read bf16
tensors).

* ``val_step`` (validation during training) follows ``optim_wrapper.
  precision`` of an :class:`~tsm_plugin.engine.optim_wrapper.
  AutocastOptimWrapper`: as fast as training.
* ``test_step`` (``tools/test.py``, ``tools/eval_tfd.py``, the TFD sweep)
  runs in fp32: bf16 on one machine and fp32 on another give different
  numbers for the same checkpoint (top-1 flipped on 2 of 7 test clips).
  ``tools/test.py --precision`` / ``tools/eval_tfd.py --precision`` set
  :func:`set_eval_precision`.

An explicit ``precision`` applies to both. The precision a step ran in is
recorded (:func:`used_precision`; ``test/precision`` in the message hub, so
the test log's JSON names it).

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
    PRECISIONS,
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
            ``'fp32'`` (see :mod:`tsm_plugin.engine.precision`) for both
            steps. None (the default): validation follows the runner's
            ``AutocastOptimWrapper`` (fp32 if the optim wrapper is another
            type), tests run in fp32.
    """

    priority = 'NORMAL'

    def __init__(self, precision: Optional[str] = None) -> None:
        if precision is not None:
            resolve_dtype(precision, 'cpu')  # a bad value fails at build
        self.precision = precision
        self._logged = set()

    def _precision(self, runner, stage: str) -> str:
        if self.precision is not None:
            return self.precision
        if stage == 'test':
            return 'fp32'
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, dict):  # not built (test-only run)
            if wrapper.get('type') == 'AutocastOptimWrapper':
                return wrapper.get('precision', 'auto')
            return 'fp32'
        return getattr(wrapper, 'precision', 'fp32')

    def _dtype(
        self, runner, stage: str
    ) -> Tuple[Optional[torch.dtype], torch.device]:
        device = device_of(runner.model)
        dtype = resolve_dtype(self._precision(runner, stage), device)
        name = precision_name(dtype)
        runner.model._eval_precision[stage] = name
        runner.message_hub.update_info(f'{stage}/precision', name)
        if (stage, device) not in self._logged:
            self._logged.add((stage, device))
            print_log(
                f'EvalAutocastHook: {stage} in {name} on {device}',
                logger='current',
            )
        return dtype, device

    def before_run(self, runner) -> None:
        """Wrap the model's ``val_step`` and ``test_step`` (once)."""
        model = runner.model
        if getattr(model, '_eval_autocast_hook', None) is self:
            return
        fp32_head_output(model)
        model._eval_precision = {}
        for name in ('val_step', 'test_step'):
            original = getattr(model, name)

            def step(data, _original=original, _stage=name[:-5]):
                dtype, device = self._dtype(runner, _stage)
                if dtype is None:
                    return _original(data)
                with autocast(device, dtype):
                    outputs = _original(data)
                return scores_to_float32(outputs)

            setattr(model, name, step)
        model._eval_autocast_hook = self


def used_precision(model, stage: str = 'test') -> Optional[str]:
    """The precision ``model``'s last ``val``/``test`` step ran in under
    :class:`EvalAutocastHook` (``'fp32'``, ``'bf16'``, ``'fp16'``); None if
    no hook wrapped it or it has not run."""
    for net in (model, getattr(model, 'module', None)):
        found = getattr(net, '_eval_precision', {}).get(stage)
        if found:
            return found
    return None


def set_eval_precision(cfg, precision: str) -> None:
    """Make a config's tests run in ``precision`` (the tools' --precision).

    Sets ``precision`` on the config's ``EvalAutocastHook`` (in
    ``default_hooks`` or ``custom_hooks``), adding one to ``default_hooks``
    if it has none, and turns mmengine's own ``test_cfg.fp16`` off so the
    hook alone decides.

    Raises:
        InputError: a value not in :data:`~tsm_plugin.engine.precision.
            PRECISIONS`.
    """
    if precision not in PRECISIONS:
        resolve_dtype(precision, 'cpu')  # raises the one-line error
    hooks = [
        h
        for h in list((cfg.get('default_hooks') or {}).values())
        + list(cfg.get('custom_hooks') or [])
        if isinstance(h, dict) and h.get('type') == 'EvalAutocastHook'
    ]
    if not hooks:
        cfg.setdefault('default_hooks', {})
        cfg.default_hooks['eval_autocast'] = dict(type='EvalAutocastHook')
        hooks = [cfg.default_hooks['eval_autocast']]
    for hook in hooks:
        hook['precision'] = precision
    for loop in ('test_cfg', 'val_cfg'):
        if isinstance(cfg.get(loop), dict):
            cfg[loop].pop('fp16', None)
