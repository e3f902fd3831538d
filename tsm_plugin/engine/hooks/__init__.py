"""Registered components; see the package docstring."""
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import PREEMPTED_EXIT_CODE, Preempted, PreemptionHook
from .skipped_videos_hook import SkippedVideosHook
from .tfd_hook import TFDEvalHook

__all__ = [
    'NonFiniteLossError', 'NonFiniteLossHook', 'PREEMPTED_EXIT_CODE',
    'Preempted', 'PreemptionHook', 'SkippedVideosHook', 'TFDEvalHook'
]
from .eval_autocast_hook import EvalAutocastHook  # noqa: F401,E402
