"""Which precision and memory format a device trains fastest in.

A 16-frame TSM-R50 step (https://arxiv.org/abs/1811.08383) is dominated by
convolutions, which run several times faster in 16-bit on matrix units.
``precision='auto'`` picks by what the hardware does natively:

==============================================  ==========================
hardware                                        ``'auto'``
==============================================  ==========================
CUDA, compute capability >= 8.0 (A100, H100,    bf16 autocast
RTX 30xx/40xx, L4, H200)
CUDA 7.x (V100, T4, RTX 20xx): fp16 tensor      fp16 autocast + dynamic
cores, bf16 only emulated                       loss scaling
CUDA < 7.0 (P100, GTX 10xx): no tensor cores    fp32
x86 CPU with AMX (Sapphire Rapids and later)    bf16 autocast
other CPUs, MPS                                 fp32
==============================================  ==========================

The capability is the hardware's own number: ``torch.cuda.is_bf16_supported()``
answers True on 7.x too (its default counts emulation), where bf16 is slower
than fp32. bf16 has fp32's exponent range and needs no loss scaling; fp16
overflows in the gradients, so its loss is scaled (by
:class:`~tsm_plugin.engine.optim_wrapper.AutocastOptimWrapper`).

``channels_last`` follows the same rule: oneDNN's AMX kernels and cuDNN's
tensor-core kernels both work in NHWC.

Pure functions (no registry); :mod:`tsm_plugin.engine.optim_wrapper`, the
data preprocessor and the eval hook use them. The hardware's facts come from
:mod:`tsm_plugin.utils.device`.
"""

import contextlib
from typing import Optional, Tuple, Union

import torch
from mmengine.structures import BaseDataElement

from ..errors import InputError
from ..utils.device import cpu_has_amx, cuda_capability, device_type_of

#: The values ``precision`` accepts; ``'auto'`` = what the hardware is
#: fastest in (see the table above).
PRECISIONS = ('auto', 'bf16', 'fp16', 'fp32')
_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': None}
#: CUDA compute capabilities: fp16 tensor cores from Volta, bf16 from Ampere.
FP16_TENSOR_CORES = (7, 0)
NATIVE_BF16 = (8, 0)


def auto_precision(
    device: Union[str, torch.device, None],
) -> Tuple[Optional[torch.dtype], str]:
    """What ``precision='auto'`` trains in on ``device``, and why.

    Args:
        device (str | torch.device): where the model runs.

    Returns:
        tuple: the autocast dtype (None = fp32) and the reason, a phrase
        for the log (``'compute capability 7.0: ...'``).
    """
    kind = device_type_of(device)
    if kind == 'cuda':
        cap = cuda_capability(device)
        if cap is None:
            return None, 'CUDA is not available'
        name = f'compute capability {cap[0]}.{cap[1]}'
        if torch.version.hip:  # ROCm: no tensor-core rule by capability
            if torch.cuda.is_bf16_supported(including_emulation=False):
                return torch.bfloat16, f'ROCm {name}: native bf16'
            return None, f'ROCm {name}: no native bf16'
        if cap >= NATIVE_BF16:
            return torch.bfloat16, f'{name}: native bf16'
        if cap >= FP16_TENSOR_CORES:
            return torch.float16, (
                f'{name}: fp16 tensor cores, bf16 only emulated (slower '
                'than fp32)'
            )
        return None, f'{name}: no tensor cores'
    if kind == 'cpu':
        if cpu_has_amx():
            return torch.bfloat16, 'CPU with AMX (native bf16 tiles)'
        return None, 'CPU without AMX: bf16 is emulated, slower than fp32'
    return None, f'{kind}: 16-bit autocast is not known to be faster there'


def has_fast_bf16(device_type: str) -> bool:
    """Whether bf16 matrix math is native (faster than fp32) on the device.

    Args:
        device_type (str): ``'cuda'``, ``'cpu'``, ``'mps'``, ..., or one
            device (``'cuda:1'``: that GPU's capability).

    Returns:
        bool: True for CUDA from compute capability 8.0 and for CPUs with
        AMX.
    """
    return auto_precision(device_type)[0] is torch.bfloat16


def resolve_precision(
    precision: str, device: Union[str, torch.device, None]
) -> Tuple[Optional[torch.dtype], str]:
    """The autocast dtype for ``precision`` on ``device``, and why.

    Args:
        precision (str): one of :data:`PRECISIONS`.
        device (str | torch.device): where the model runs.

    Returns:
        tuple: ``torch.bfloat16``, ``torch.float16`` or None (plain fp32,
        no autocast), and the reason for the log.

    Raises:
        InputError: an unknown ``precision``, or ``'bf16'`` asked for on a
            CUDA device without native bf16 (compute capability < 8.0).
    """
    if precision not in PRECISIONS:
        raise InputError(
            f'precision must be one of {PRECISIONS}, got {precision!r}'
        )
    if precision == 'auto':
        return auto_precision(device)
    if precision == 'bf16' and device_type_of(device) == 'cuda':
        cap = cuda_capability(device)
        if cap is not None and not torch.version.hip and cap < NATIVE_BF16:
            raise InputError(
                f'precision=bf16: {device} has compute capability '
                f'{cap[0]}.{cap[1]}, where bf16 is only emulated (slower '
                "than fp32); use 'fp16' or 'auto'"
            )
    return _DTYPES[precision], 'as configured'


def resolve_dtype(
    precision: str, device: Union[str, torch.device, None]
) -> Optional[torch.dtype]:
    """The autocast dtype of :func:`resolve_precision`; None = fp32."""
    return resolve_precision(precision, device)[0]


def resolve_channels_last(
    channels_last: Union[bool, str], device: Union[str, torch.device, None]
) -> bool:
    """``True``/``False`` as given; ``'auto'`` = where ``precision='auto'``
    autocasts (bf16 or fp16 matrix units work in NHWC).

    Raises:
        InputError: a value other than True, False or ``'auto'``.
    """
    if channels_last == 'auto':
        return auto_precision(device)[0] is not None
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
