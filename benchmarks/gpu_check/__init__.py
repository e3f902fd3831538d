"""``tools/gpu_check.sh``: this project's GPU figures in one command.

Made for a GPU machine lent for minutes: every figure docs/gpu_check.md's GPU
table needs, measured in one run within a time budget (8 min), written to
``OUT/gpu_check.json`` and ``OUT/gpu_check.md`` after every section, so a
run cut short still leaves what it measured. Sections, in order
(:mod:`.sections`):

* ``environment``: versions, the device, its compute capability, whether
  bf16 is native, the precision the recipe picks there, the CPUs.
* ``step``: one training step of the recipe's TSM-R50
  (https://arxiv.org/abs/1811.08383) at 16 frames, 224 px, the recipe's
  batch: ours (its precision and memory format: bf16 + channels_last on a
  GPU with native bf16) against ours in fp32 NCHW, mmaction2's stock
  ``ResNetTSM``, and a plain ResNet-50 on as many images (the ceiling), by
  ``tools/benchmark.py model``.
* ``videos``: SSv2-sized synthetic videos (240p VP9, 12 fps, 2-6 s,
  textured), made here with all cores.
* ``train``: the recipe trained for 30 iterations by the Runner on those
  videos at 224 px, at its own loader settings: clips/s, the share of time
  spent waiting for data (mmengine's ``data_time`` over ``time`` per
  iteration), peak GPU memory.
* ``loader_webm``: clips/s of the recipe's training pipeline through a
  DataLoader with 4, 8 and 15 workers on the .webm files.
* ``fp16_step``: the step in fp16 with loss scaling (pre-Ampere GPUs' path).
* ``prepare`` and ``loader_prepared``: the videos converted by
  ``tools/prepare_ssv2.py`` to its default format, and the loader on it.
* ``ffn_step``: one FFN step (https://arxiv.org/abs/2303.14817) against
  one TSM step, by ``tools/benchmark.py ffn``.

Each section is guarded (:mod:`.check`): a failure is recorded with its
error and the rest run; a tool that is missing is ``not available``; once
the budget is spent the running section stops (``timed out``) and the rest
are ``skipped`` (:mod:`.budget`). ``--dry-run`` runs every section at tiny
sizes (:mod:`.sizes`) on whatever device there is (a CPU in the tests).

Modules: :mod:`.sizes` (the recipe, full and dry-run sizes),
:mod:`.budget` (each section's minimum, the alarm), :mod:`.check` (the
state and the guarded loop), :mod:`.sections` (the nine sections),
:mod:`.training` (the Runner runs they make), :mod:`.cli`
(flags and exit status; ``python -m benchmarks.gpu_check``). The table
itself is :mod:`benchmarks.gpu_report`.
"""

from .budget import MIN_SECONDS, BudgetExceeded, NotAvailable
from .check import GpuCheck
from .cli import build_parser, main, run
from .sections import SECTIONS, benchmark_modes
from .sizes import RECIPE, SIZES
from .training import (
    drop_missing_tensorboard,
    ensure_distutils,
    shrink_crops,
)

__all__ = [
    'MIN_SECONDS',
    'RECIPE',
    'SECTIONS',
    'SIZES',
    'BudgetExceeded',
    'GpuCheck',
    'NotAvailable',
    'benchmark_modes',
    'build_parser',
    'drop_missing_tensorboard',
    'ensure_distutils',
    'main',
    'run',
    'shrink_crops',
]
