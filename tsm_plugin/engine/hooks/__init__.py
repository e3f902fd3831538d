"""Hooks a config names: one per file, each with the failure it prevents.

* :class:`AtomicCheckpointHook`: checkpoints written whole or not at all; a
  full disk stops the run in one line (exit 4), warned of at start;
* :class:`CheckpointFormatHook`: foreign checkpoints converted, misfits
  refused;
* :class:`DataWaitHook`: the share of time spent waiting for data;
* :class:`EvalAutocastHook`: validation in the training precision, tests
  in fp32 unless told;
* :class:`HeapReuseHook`: freed host memory kept for the next step (CPU);
* :class:`NonFiniteLossHook`: a NaN/inf loss stops the run before a save;
* :class:`PreemptionHook`: SIGTERM/SIGUSR1 saves a checkpoint, exits 3
  (:func:`release_signals` gives its handlers back after a failed run);
* :class:`SkippedVideosHook`: samples replaced for an unusable video,
  counted per epoch; its loaders put under the decode deadline;
* :class:`ThreadPolicyHook`: one torch thread per dataloader worker, the
  rest to the main process.
"""

from .checkpoint_format_hook import CheckpointFormatHook
from .checkpoint_hook import AtomicCheckpointHook
from .data_wait_hook import DataWaitHook
from .eval_autocast_hook import EvalAutocastHook
from .heap_reuse_hook import HeapReuseHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import (
    PREEMPTED_EXIT_CODE,
    Preempted,
    PreemptionHook,
    release_signals,
    shutdown_workers,
)
from .skipped_videos_hook import SkippedVideosHook
from .thread_policy_hook import ThreadPolicyHook

__all__ = [
    'AtomicCheckpointHook',
    'CheckpointFormatHook',
    'DataWaitHook',
    'EvalAutocastHook',
    'HeapReuseHook',
    'NonFiniteLossError',
    'NonFiniteLossHook',
    'PREEMPTED_EXIT_CODE',
    'Preempted',
    'PreemptionHook',
    'SkippedVideosHook',
    'ThreadPolicyHook',
    'release_signals',
    'shutdown_workers',
]
