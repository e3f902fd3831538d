"""Keep freed tensor memory in the process when training on a Linux CPU.

A training step frees and allocates the same activation tensors every
iteration. glibc's ``malloc`` serves large blocks with fresh ``mmap`` pages
(above a threshold that starts at 128 KiB) and gives free memory at the top
of its heap back to the kernel, so every step faults all its activation
pages in again: one ``make demo-ffn`` from a fresh clone took 17.6 million
minor page faults. PyTorch's CPU performance guide swaps the allocator
(jemalloc or tcmalloc via ``LD_PRELOAD``) for this; glibc gets the same
reuse from two ``mallopt`` calls, with nothing to install:

* ``M_MMAP_MAX`` 0: every block comes from the heap, where freed blocks
  are reused (the mmap threshold's ceiling, 32 MiB, is below a 224 px
  activation: ``(28, 64, 112, 112)`` floats are 90 MB);
* ``M_TRIM_THRESHOLD`` -1 (mallopt(3): "disables trimming completely"):
  freed heap memory stays mapped, however large the step's peak (an FFN-R50
  step at 224 px holds more than 2 GiB).

The process keeps its peak heap until it exits, which a training or
evaluation run reaches in its first step anyway. GPUs need none of this
(the CUDA caching allocator already reuses device memory). macOS, musl and
Windows are left alone.
"""

import ctypes
import ctypes.util
import platform
from typing import Optional

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_MAX = -4
NEVER_TRIM = -1

_applied: Optional[bool] = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to reuse freed blocks instead of unmapping them.

    Idempotent; a no-op (False) where the C library is not glibc.

    Returns:
        bool: Whether both settings are in effect.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _applied = bool(
        mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
    )
    return _applied
