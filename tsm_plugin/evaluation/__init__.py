"""Temporal Frequency Deviation (TFD) evaluation.

One checkpoint, trained at a fixed frame count, evaluated at several frame
counts (FFN, https://arxiv.org/abs/2303.14817):

* :mod:`.sweep`: :func:`run_sweep` from a checkpoint, :func:`sweep_model` on
  a model in memory, :func:`sweep_models` on several (each video decoded
  once for all of them); :mod:`.sweep_pass`: the pass over the test loader,
  one :class:`FrameCountEvaluator` per model and frame count;
* :mod:`.multi_frame`: :class:`MultiFrameTestSample`, each video decoded
  once for every frame count;
* :mod:`.tfd_hook`: :class:`TFDEvalHook`, the sweep after training;
* :mod:`.complexity`: one clip's GFLOPs and parameters per frame count,
  counted once per architecture, clip size and frame count
  (:class:`FlopCache`, in memory or a JSON file);
* :mod:`.per_class`: top-1 per class, and the classes that lose most;
* :mod:`.tables` (Markdown, CSV) and :mod:`.plots` (PNG): the sweep
  presented;
* :mod:`.report`: :func:`write_report` for ``tfd.json`` / ``tfd.md`` /
  ``tfd.png`` (and the per-class CSV and plot), :func:`write_comparison`
  for several models, the visualizer's scalars and images.

The frame count of a built model is set by
:mod:`tsm_plugin.models.frame_counts` (``frame_count``,
``set_model_num_frames``).
"""

from .complexity import FlopCache, count_complexity
from .multi_frame import MultiFrameTestSample, split_test_pipeline
from .plots import plot_compare, plot_top1
from .report import to_json, write_comparison, write_report
from .sweep import (
    FrameCountEvaluator,
    run_sweep,
    sweep_model,
    sweep_models,
    trained_counts_of,
)
from .tables import compare_table, markdown_table
from .tfd_hook import TFDEvalHook

__all__ = [
    'FlopCache',
    'FrameCountEvaluator',
    'MultiFrameTestSample',
    'TFDEvalHook',
    'compare_table',
    'count_complexity',
    'markdown_table',
    'plot_compare',
    'plot_top1',
    'run_sweep',
    'split_test_pipeline',
    'sweep_model',
    'sweep_models',
    'to_json',
    'trained_counts_of',
    'write_comparison',
    'write_report',
]
