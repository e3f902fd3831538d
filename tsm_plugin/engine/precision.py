"""Which precision and memory format a device trains fastest in.

A 16-frame TSM-R50 step (https://arxiv.org/abs/1811.08383) is dominated by
convolutions. They run about twice as fast under bf16 autocast wherever the
hardware has bf16 matrix units: CUDA GPUs with bf16 (Ampere and later) and
x86 CPUs with AMX (Sapphire Rapids and later). Elsewhere bf16 is emulated
and slower than fp32, so ``'auto'`` picks fp32 there (MPS, older CPUs, CUDA
without bf16). bf16 has fp32's exponent range, so it needs no loss scaling.

``channels_last`` follows the same rule: oneDNN's AMX kernels and cuDNN's
tensor-core kernels both work in NHWC.

Pure functions (no registry); :mod:`tsm_plugin.engine.optim_wrapper`, the
data preprocessor and the eval hook use them. The CPU's flags come from
:mod:`tsm_plugin.utils.device`.
"""

import contextlib
from typing import Optional, Union

import torch
from mmengine.structures import BaseDataElement

from ..errors import InputError
from ..utils.device import cpu_has_amx, device_type_of

#: The values ``precision`` accepts; ``'auto'`` = bf16 where fast, else fp32.
PRECISIONS = ('auto', 'bf16', 'fp16', 'fp32')
_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': None}


def has_fast_bf16(device_type: str) -> bool:
    """Whether bf16 matrix math is native (faster than fp32) on the device.

    Args:
        device_type (str): ``'cuda'``, ``'cpu'``, ``'mps'``, ...

    Returns:
        bool: True for CUDA with bf16 support and for CPUs with AMX.
    """
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == 'cpu':
        return cpu_has_amx()
    return False


def resolve_dtype(
    precision: str, device: Union[str, torch.device, None]
) -> Optional[torch.dtype]:
    """The autocast dtype for ``precision`` on ``device``; None = fp32.

    Args:
        precision (str): one of :data:`PRECISIONS`.
        device (str | torch.device): where the model runs.

    Returns:
        torch.dtype | None: ``torch.bfloat16``, ``torch.float16`` or None
        (plain fp32, no autocast).

    Raises:
        InputError: an unknown ``precision``, or ``'bf16'`` asked for on a
            CUDA device that has no bf16.
    """
    if precision not in PRECISIONS:
        raise InputError(
            f'precision must be one of {PRECISIONS}, got {precision!r}'
        )
    device_type = device_type_of(device)
    if precision == 'auto':
        return torch.bfloat16 if has_fast_bf16(device_type) else None
    if (
        precision == 'bf16'
        and device_type == 'cuda'
        and not torch.cuda.is_bf16_supported()
    ):
        raise InputError(
            'precision=bf16: this CUDA device has no bf16; '
            "use 'fp16' or 'auto'"
        )
    return _DTYPES[precision]


def resolve_channels_last(
    channels_last: Union[bool, str], device: Union[str, torch.device, None]
) -> bool:
    """``True``/``False`` as given; ``'auto'`` = where bf16 is fast.

    Raises:
        InputError: a value other than True, False or ``'auto'``.
    """
    if channels_last == 'auto':
        return has_fast_bf16(device_type_of(device))
    if isinstance(channels_last, bool):
        return channels_last
    raise InputError(
        f"channels_last must be True, False or 'auto', got {channels_last!r}"
    )


def autocast(
    device: Union[str, torch.device, None], dtype: Optional[torch.dtype]
):
    """``torch.autocast`` to ``dtype`` on ``device``; no-op for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type_of(device), dtype=dtype)


def precision_name(dtype: Optional[torch.dtype]) -> str:
    """``'bf16'``, ``'fp16'`` or ``'fp32'`` (None) for logs and reports."""
    return {torch.bfloat16: 'bf16', torch.float16: 'fp16'}.get(dtype, 'fp32')


SCORE_FIELDS = ('pred_score',)


def scores_to_float32(outputs):
    """Cast low-precision floating tensors in ``outputs`` to fp32.

    Args:
        outputs: a tensor, a data sample (its ``pred_score`` is cast, in
            place), or lists/tuples/dicts of them.

    Returns:
        The same structure.
    """
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, BaseDataElement):
        for field in SCORE_FIELDS:
            value = outputs.get(field)
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                outputs.set_field(value.float(), field)
        return outputs
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(scores_to_float32(o) for o in outputs)
    if isinstance(outputs, dict):
        return {k: scores_to_float32(v) for k, v in outputs.items()}
    return outputs


def _float_output(module, inputs, output):
    return scores_to_float32(output)


def fp32_head_output(model: torch.nn.Module) -> bool:
    """Make the recognizer's ``cls_head`` return fp32 scores under autocast.

    mmaction2's heads hand their scores to numpy (``top_k_accuracy`` in the
    training loss, ``AccMetric`` in evaluation) and numpy has no bf16; the
    loss is also better computed in fp32. A forward hook on ``cls_head``
    casts its output; idempotent.

    Args:
        model (nn.Module): a recognizer, possibly in a model wrapper.

    Returns:
        bool: whether a hook was added (False: no ``cls_head``, or done).
    """
    net = getattr(model, 'module', model)  # DDP and mmengine wrappers
    head = getattr(net, 'cls_head', None)
    if (
        not isinstance(head, torch.nn.Module)
        or getattr(head, '_fp32_output_hook', None) is not None
    ):
        return False
    head._fp32_output_hook = head.register_forward_hook(_float_output)
    return True
