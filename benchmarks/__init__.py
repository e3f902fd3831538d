"""Benchmarks: our training step, data pipeline and TFD sweep against
mmaction2's stock equivalents, and FFN's step against TSM's, each measured
in one run on the same inputs.

Kept outside the library, as mmaction2 keeps
``tools/analysis_tools/benchmark.py`` outside ``mmaction/``; run with
``python tools/benchmark.py MODE`` or ``python -m benchmarks MODE``.

Four modes (:mod:`benchmarks.cli`), each printing both sides' figures and
their ratio and, with ``--json PATH``, writing them as JSON; against
mmaction2 that is ``{"ours": {...}, "mmaction2": {...}, "speedup": X, ...}``
(``speedup`` = our throughput / mmaction2's; above 1 we are faster):

* ``model`` (:mod:`benchmarks.model_step`): one training step (data
  preprocessor, forward, backward, optimizer) of TSM-R50
  (https://arxiv.org/abs/1811.08383) at 16 frames, 224 px, as the recipe
  runs it on this device (its precision and memory format), against
  mmaction2's ``ResNetTSM`` + ``TSMHead`` in fp32 NCHW; plus
  ``speedup_same_settings``, ours in fp32 NCHW too (the backbones alone
  compared); on CUDA also a plain ResNet-50 on as many images (the ceiling).
* ``ffn`` (:mod:`benchmarks.ffn_step`): one FFN training step
  (https://arxiv.org/abs/2303.14817, 16 + 8 + 4 frames) against one TSM
  step at 16 frames, on the same device and settings.
* ``data`` (:mod:`benchmarks.data_pipeline`): clips/s of the training
  pipeline (decode, sample 16 frames, augment, ``16x3x224x224``) on
  SSv2-sized videos against mmaction2's stock sthv2 video pipeline, in one
  process and with N loader workers, plus the decode floor (each side's
  pipeline up to its decoder). With ``--format F``
  (:mod:`benchmarks.data_format`): the pipeline on a copy prepared by
  ``tools/prepare_data.py`` against the same pipeline on the source videos;
  ``--videos k400``: on Kinetics-400-sized H.264 ``.mp4`` instead.
* ``tfd`` (:mod:`benchmarks.tfd_sweep`): wall time of the 4/8/12/16-frame
  TFD sweep (https://arxiv.org/abs/2303.14817) of one checkpoint, decoding
  each video once, against four separate evaluations with the stock
  pipeline.

Timings interleave the sides (:func:`benchmarks._timing.round_robin`, after
a warm-up) so a busy machine slows both alike; each figure is a median.

Beside the modes: :mod:`benchmarks.gpu_check` (``tools/gpu_check.sh``, every
GPU figure of this project in one budgeted run) and
:mod:`benchmarks.gpu_report` (its table). Shared parts: ``_args`` (flags),
``_timing`` (interleaved runs, medians, ratios), ``_build`` (models from
the registries), ``_stock`` (mmaction2's pipelines), ``_videos`` (the
synthetic video sets), ``_data`` (what ``data`` and ``--format`` share).
"""

# Before any mmaction2 import: the pinned wheel's import fixes.
import tsm_plugin  # noqa: F401,E402
