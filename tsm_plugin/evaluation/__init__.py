"""Temporal Frequency Deviation (TFD) evaluation.

One checkpoint, trained at a fixed frame count, evaluated at several frame
counts (FFN, https://arxiv.org/abs/2303.14817): :func:`run_sweep` from a
checkpoint, :func:`sweep_model` on a model in memory (:class:`TFDEvalHook`),
:func:`write_report` for ``tfd.json`` / ``tfd.md`` / ``tfd.png``.
"""

from .multi_frame import MultiFrameTestSample, split_test_pipeline
from .report import (
    compare_table,
    markdown_table,
    plot_compare,
    plot_top1,
    to_json,
    write_comparison,
    write_report,
)
from .sweep import (
    FrameCountEvaluator,
    run_sweep,
    set_model_num_frames,
    sweep_model,
)
from .tfd_hook import TFDEvalHook

__all__ = [
    'FrameCountEvaluator',
    'MultiFrameTestSample',
    'TFDEvalHook',
    'compare_table',
    'markdown_table',
    'plot_compare',
    'write_comparison',
    'plot_top1',
    'run_sweep',
    'set_model_num_frames',
    'split_test_pipeline',
    'sweep_model',
    'to_json',
    'write_report',
]
