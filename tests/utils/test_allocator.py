"""HeapReuseHook / keep_freed_memory: CPU steps stop re-faulting pages."""

import platform
import subprocess
import sys

import pytest

from tests.helpers import REPO
from tsm_plugin.utils.allocator import keep_freed_memory

glibc_only = pytest.mark.skipif(
    platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
    reason='mallopt is glibc',
)

# In a fresh process: the bytes glibc holds in separate mmaps while a
# 20 MiB tensor lives, and its heap's size after the tensor is freed.
PROBE = """
import ctypes, sys, torch
if sys.argv[1] == 'reuse':
    from tsm_plugin.utils.allocator import keep_freed_memory
    assert keep_freed_memory()
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks '
        'fordblks keepcost').split()]
mallinfo2 = ctypes.CDLL('libc.so.6').mallinfo2
mallinfo2.restype = Info
act = torch.empty(5 * 1024 * 1024).fill_(1.0)  # 20 MiB
mapped = mallinfo2().hblkhd
del act
print(mapped, mallinfo2().arena)
"""
MIB = 1024 * 1024


def _probes(*modes: str) -> list:
    """Each mode's probe in its own fresh process, all at once."""
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', PROBE, mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for mode in modes
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        results.append([int(v) for v in out.split()[-2:]])
    return results


@glibc_only
@pytest.mark.slow
def test_freed_activations_stay_in_the_heap():
    default, reuse = _probes('default', 'reuse')
    # glibc's default: a fresh mmap for the tensor, unmapped when freed, so
    # the next step's tensor faults in 5120 new pages
    mapped, _ = default
    assert mapped >= 20 * MIB
    # reuse: the tensor comes from the heap, which keeps it once freed
    mapped, heap = reuse
    assert mapped < 20 * MIB and heap >= 20 * MIB


@glibc_only
def test_keep_freed_memory_is_idempotent():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True


class _Logger:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)


@glibc_only
@pytest.mark.parametrize('device, logged', [('cpu', True), ('meta', False)])
def test_hook_acts_on_cpu_runs_only(device, logged):
    from types import SimpleNamespace

    import torch

    from tsm_plugin.engine.hooks import HeapReuseHook

    runner = SimpleNamespace(
        model=torch.nn.Linear(2, 2, device=device), logger=_Logger()
    )
    HeapReuseHook().before_run(runner)
    assert bool(runner.logger.lines) == logged
    assert all('Heap:' in line for line in runner.logger.lines)


def test_default_runtime_names_the_hook():
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / 'configs/_base_/default_runtime.py'))
    assert cfg.default_hooks.heap_reuse == dict(type='HeapReuseHook')
