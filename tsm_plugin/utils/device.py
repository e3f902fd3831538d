"""The device: CUDA, then MPS, then CPU; and what the hardware is.

One home for device questions: which device a run uses
(:func:`default_device`, mmengine's rule), where a module lives
(:func:`device_of`), how to name it in a log (:func:`describe_device`), and
the CPU's model name and flags (:func:`cpu_name`, :func:`cpu_has_amx`) and
a CUDA GPU's compute capability (:func:`cuda_capability`).
"""

import functools
import platform
from typing import Optional, Tuple

import torch

from ..errors import InputError


def default_device() -> str:
    """``'cuda'``, else ``'mps'``, else ``'cpu'`` (what the Runner picks)."""
    from mmengine.device import get_device

    return get_device()


def resolve_device(name: Optional[str]) -> str:
    """A ``--device`` value: ``None``/``'auto'`` -> :func:`default_device`.

    Raises:
        InputError: a CUDA or MPS device asked for where there is none.
    """
    if name in (None, 'auto'):
        return default_device()
    kind = name.split(':')[0]
    if kind == 'cuda' and not torch.cuda.is_available():
        raise InputError(f'--device {name}: CUDA is not available')
    if kind == 'mps' and not (
        hasattr(torch.backends, 'mps') and torch.backends.mps.is_available()
    ):
        raise InputError(f'--device {name}: MPS is not available')
    if kind not in ('cuda', 'mps', 'cpu'):
        raise InputError(
            f"--device {name}: expected 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'"
        )
    return name


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU if it has none).

    A model wrapper (DDP, mmengine's) is looked through.
    """
    net = getattr(module, 'module', module)
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


def device_type_of(device) -> str:
    """``'cuda'`` for ``'cuda:1'`` or ``torch.device('cuda', 1)``, etc."""
    if device is None:
        return 'cpu'
    return torch.device(device).type


@functools.lru_cache(maxsize=None)
def cpu_name(cpuinfo: str = '/proc/cpuinfo') -> str:
    """The CPU's model name (Linux: cpuinfo; elsewhere the platform's)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def cpu_has_amx(cpuinfo: str = '/proc/cpuinfo') -> bool:
    """Whether this CPU has AMX bf16 tiles (Linux: ``amx_bf16`` in cpuinfo).

    ``torch.backends.cpu.get_cpu_capability()`` reports only the vector ISA
    (``'AVX512'`` on an AMX machine too), so the kernel's flags are read.

    Args:
        cpuinfo (str): the file to read. Defaults to ``/proc/cpuinfo``.
    """
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith('flags'):
                    return 'amx_bf16' in line.split()
    except OSError:  # not Linux (macOS, Windows): no AMX detection
        pass
    return False


def cuda_capability(device=None) -> Optional[Tuple[int, int]]:
    """A CUDA device's compute capability, ``(8, 0)`` for an A100; None
    where CUDA is not available.

    The hardware's own number, unlike ``torch.cuda.is_bf16_supported()``,
    which by default also answers True where bf16 is only emulated (V100,
    T4: compute capability 7.x).

    Args:
        device (str | torch.device | int, optional): a CUDA device; None
            for the current one.
    """
    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(device))


def describe_device(device: Optional[str] = None) -> str:
    """A log line's name for ``device`` (default: :func:`default_device`)."""
    device = device or default_device()
    kind = device_type_of(device)
    if kind == 'cuda':
        return (
            f'{device} ({torch.cuda.get_device_name(device)} '
            f'x{torch.cuda.device_count()})'
        )
    if kind == 'cpu':
        return f'cpu ({cpu_name()}, {torch.get_num_threads()} threads)'
    return device
