"""Hooks a config names: one per file, each with the failure it prevents."""

from .checkpoint_format_hook import CheckpointFormatHook
from .checkpoint_hook import AtomicCheckpointHook
from .eval_autocast_hook import EvalAutocastHook
from .heap_reuse_hook import HeapReuseHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import (
    PREEMPTED_EXIT_CODE,
    Preempted,
    PreemptionHook,
    shutdown_workers,
)
from .skipped_videos_hook import SkippedVideosHook
from .thread_policy_hook import ThreadPolicyHook

__all__ = [
    'AtomicCheckpointHook',
    'CheckpointFormatHook',
    'EvalAutocastHook',
    'HeapReuseHook',
    'NonFiniteLossError',
    'NonFiniteLossHook',
    'PREEMPTED_EXIT_CODE',
    'Preempted',
    'PreemptionHook',
    'SkippedVideosHook',
    'ThreadPolicyHook',
    'shutdown_workers',
]
