"""Hooks a config names: one per file, each with the failure it prevents."""
from .checkpoint_hook import AtomicCheckpointHook
from .eval_autocast_hook import EvalAutocastHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import PREEMPTED_EXIT_CODE, Preempted, PreemptionHook
from .skipped_videos_hook import SkippedVideosHook

__all__ = [
    'AtomicCheckpointHook', 'EvalAutocastHook', 'NonFiniteLossError',
    'NonFiniteLossHook', 'PREEMPTED_EXIT_CODE', 'Preempted', 'PreemptionHook',
    'SkippedVideosHook'
]
