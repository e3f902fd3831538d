"""The TFD sweep: one checkpoint evaluated at several frame counts.

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817): a TSM
(https://arxiv.org/abs/1811.08383) trained at 16 frames loses accuracy when
evaluated at other frame counts (SSv2, 1 clip x centre crop: 61.02 top-1 at
16 frames, 51.55 at 8, 31.52 at 4).

The protocol is the config's test pipeline under its test protocol
(:mod:`~tsm_plugin.datasets.test_protocols`: ``efficient``, the config's own
1 clip x centre crop; the TSM repo's ``accurate``; mmaction2's ``zoo``) and
its own evaluator (``AccMetric``), with the frame count changed everywhere
it lives: the built model's ``backbone.num_segments`` and
``cls_head.num_segments`` for each batch (no weight reload:
:func:`~tsm_plugin.models.frame_counts.frame_count`) and the sampler's
``num_clips``. Under a multi-view protocol every view of every frame count
comes from the one decoding too.

Two paths give the same numbers:

* ``decode_once=True`` (default): :class:`MultiFrameTestSample` decodes each
  video once, the union of the frames every frame count samples, and builds
  one test sample per frame count from those frames; each batch then runs
  through the model once per frame count.
* ``decode_once=False``: one separate evaluation per frame count, as
  ``tools/test.py --num-frames N`` runs it (the reference the benchmark
  times).

:func:`sweep_models` evaluates several models in that one pass: each batch
runs through every model at each frame count (:mod:`.sweep_pass`), so a
study of tens of models decodes each video once in all; a FLOP count is
traced once per architecture, clip size and frame count
(:class:`~.complexity.FlopCache`).

The report (:func:`sweep_model`) holds ``precision``, ``trained_frames``,
``trained_counts`` (all of an FFN's branches), ``decode_once``, ``seconds``,
``stage``, ``classes``, ``protocol`` (``describe_protocol``) and ``results``,
one dict per frame count: ``frames``, ``top1``, ``top5`` (fractions, as
``AccMetric`` gives them), ``mean1``, ``num_videos``, ``trained_frames``, per
class ``class_correct`` and ``class_videos`` (:class:`~.per_class.
ClassHits`), one clip's ``gflops`` and ``params_m`` (:mod:`.complexity`;
with them the report's ``complexity_input``, ``[C, H, W]``; none with
``complexity=False``), and with ``keep_scores`` ``scores`` (``N x
classes``, in dataset order).
"""

import contextlib
import copy
import os.path as osp
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from ..datasets.test_protocols import (
    apply_test_protocol,
    describe_protocol,
    resolve_protocol,
)
from ..engine.checkpoint import existing_checkpoint
from ..errors import ConfigValueError
from ..utils.config import eval_stage, get_num_frames
from ..utils.device import describe_device
from .complexity import add_complexity
from .report import log_to_visualizer
from .sweep_pass import (
    FrameCountEvaluator,
    ModelsPass,
    decode_once_pass,
    evaluating,
    precision_of,
    result_rows,
    separate_passes,
)

__all__ = [
    'FrameCountEvaluator',
    'run_sweep',
    'sweep_model',
    'sweep_models',
    'trained_counts_of',
]


def trained_counts_of(model: torch.nn.Module) -> Optional[List[int]]:
    """The frame counts a built model was trained at, read from it: its
    backbone's ``frame_counts`` (an FFN's branches), else its
    ``num_segments``; a model of several backbones (an ensemble's
    members) all of theirs. ``None``: no backbone with ``num_segments``."""
    from mmengine.model import is_model_wrapper

    net = model.module if is_model_wrapper(model) else model
    own = getattr(net, 'backbone', None)
    backbones = (
        [own]
        if hasattr(own, 'num_segments')
        else [
            m
            for name, m in net.named_modules()
            if name.split('.')[-1] == 'backbone' and hasattr(m, 'num_segments')
        ]
    )
    counts = set()
    for b in backbones:
        counts.update(getattr(b, 'frame_counts', None) or [b.num_segments])
    return sorted(int(c) for c in counts) or None


def _sweep(
    models: Mapping[str, torch.nn.Module],
    cfg,
    frames: Sequence[int],
    trained: Callable[[str, object], Tuple[int, List[int]]],
    options: dict,
) -> Dict[str, dict]:
    """:func:`sweep_models`' body: ``trained(name, cfg)`` gives a model's
    ``(trained_frames, trained_counts)``; ``options`` its keyword
    arguments (``decode_once`` ... ``flop_cache``)."""
    decode_once, keep_scores = options['decode_once'], options['keep_scores']
    logger = options['logger'] or 'current'
    frames, names = list(frames), list(models)
    if not names:
        raise ConfigValueError('sweep_models: no models to evaluate')
    spec = resolve_protocol(options['protocol'], cfg)
    cfg = copy.deepcopy(cfg)
    apply_test_protocol(cfg, spec)
    counts = {name: trained(name, cfg) for name in names}  # before the sweep
    stage, loader_cfg, evaluator_cfg = eval_stage(cfg)
    fp16 = bool((cfg.get(f'{stage}_cfg') or {}).get('fp16', False))
    start = time.perf_counter()
    whose = f'trained at {counts[names[0]][0]}'
    if len(names) > 1:
        whose = f'{len(names)} models {names}'
    print_log(
        f'TFD: {len(frames)} frame counts {frames}, {whose}, '
        f'{"decode once" if decode_once else "separate"}',
        logger=logger,
    )
    print_log(
        f'TFD: protocol {spec["type"]}: {describe_protocol(spec)["summary"]}',
        logger=logger,
    )
    run = ModelsPass(dict(models), evaluator_cfg, keep_scores, fp16, logger)
    with contextlib.ExitStack() as stack:
        for model in models.values():
            stack.enter_context(evaluating(model, spec))
        if decode_once:
            evaluators, num_videos = decode_once_pass(run, loader_cfg, frames)
        else:
            evaluators, num_videos = separate_passes(run, cfg, stage, frames)
        results = {
            name: result_rows(
                {t: evaluators[name, t] for t in frames},
                num_videos,
                frames,
                counts[name][0],
                logger,
                f' {name}' if len(names) > 1 else '',
            )
            for name in names
        }
    seconds = time.perf_counter() - start
    print_log(f'TFD: done in {seconds:.1f} s', logger=logger)
    reports = {}
    for name, model in models.items():
        first = evaluators[name, frames[0]]
        reports[name] = report = dict(
            precision=precision_of(model, fp16),
            trained_frames=counts[name][0],
            trained_counts=counts[name][1],
            decode_once=decode_once,
            seconds=round(seconds, 3),
            stage=stage,
            results=results[name],
            classes=first.class_hits.names,
            protocol=describe_protocol(spec),
        )
        if options['complexity']:  # GFLOPs, parameters at the fed size
            add_complexity(
                report, model, first.input_shape, logger, options['flop_cache']
            )
    return reports


def sweep_models(
    models: Mapping[str, torch.nn.Module],
    cfg,
    frames: Sequence[int],
    decode_once: bool = True,
    logger=None,
    keep_scores: bool = False,
    protocol=None,
    complexity: bool = True,
    flop_cache=None,
    trained: Optional[Mapping[str, Sequence[int]]] = None,
) -> Dict[str, dict]:
    """Evaluate several built models at each frame count of ``frames``,
    each video decoded once for all of them.

    One pass over the config's test loader: each batch (each frame count's
    sample, :class:`MultiFrameTestSample`) runs through every model at that
    count, each (model, count) with its own :class:`FrameCountEvaluator`;
    only the evaluators are per model. Models may be of different classes
    (a TSM ``Recognizer2D``, an ``FFNRecognizer``, an ensemble); each is
    set to eval mode and each frame count in turn and restored after.

    Args:
        models (Mapping[str, nn.Module]): the models by name (wrappers are
            fine); the reports follow their order.
        cfg (Config): the config whose test dataloader, test pipeline, test
            evaluator and test protocol every model is evaluated under.
        frames, decode_once, logger, keep_scores, protocol: see
            :func:`sweep_model`.
        complexity (bool): count one clip's GFLOPs and parameters per
            frame count (:mod:`.complexity`); False leaves ``gflops``,
            ``params_m`` and ``complexity_input`` out.
        flop_cache (FlopCache | str | bool, optional): where the counts
            are kept (:func:`~.complexity.count_complexity`): default this
            process's memory; a path persists them.
        trained (Mapping[str, Sequence[int]], optional): a model's trained
            frame counts (``trained_counts``; ``trained_frames`` is their
            largest); default: read from the model
            (:func:`trained_counts_of`), else the config's.

    Returns:
        dict: per model name, the report :func:`sweep_model` gives for that
        model alone (the module's docstring lists its keys), its
        ``seconds`` those of the whole shared pass.
    """
    trained = dict(trained or {})

    def of(name, cfg):
        counts = trained.get(name) or trained_counts_of(models[name])
        if counts:
            counts = sorted(int(c) for c in counts)
            return counts[-1], counts
        return _config_trained(cfg, models[name])

    return _sweep(
        models,
        cfg,
        frames,
        of,
        dict(
            decode_once=decode_once,
            logger=logger,
            keep_scores=keep_scores,
            protocol=protocol,
            complexity=complexity,
            flop_cache=flop_cache,
        ),
    )


def _config_trained(cfg, model) -> Tuple[int, List[int]]:
    """The config's trained count and counts (an FFN's branches); a
    config without a backbone (an ensemble): the model's."""
    if (cfg.model.get('backbone') or {}).get('num_segments') is None:
        counts = trained_counts_of(model)
        if counts:
            return counts[-1], counts
    count = get_num_frames(cfg)
    counts = cfg.model.backbone.get('frame_counts') or (count,)
    return count, sorted(int(c) for c in counts)


def sweep_model(
    model: torch.nn.Module,
    cfg,
    frames: Sequence[int],
    decode_once: bool = True,
    logger=None,
    keep_scores: bool = False,
    protocol=None,
    complexity: bool = True,
    flop_cache=None,
) -> dict:
    """Evaluate a built model at each frame count of ``frames``.

    The model is set to eval mode and each frame count in turn; its mode and
    frame count are restored afterwards. Runs on every rank under a
    distributed launcher (the sampler shards, the evaluator gathers). The
    one-model case of :func:`sweep_models`, with the trained counts the
    config's (``model.backbone.num_segments``, ``frame_counts``).

    Args:
        model (nn.Module): the recognizer (a model wrapper is fine).
        cfg (Config): the config it was built from; its test dataloader,
            test pipeline and test evaluator define the protocol.
        frames (list[int]): distinct frame counts >= 1, checked where they
            entered (``check_frame_counts``); the rows follow their order.
        decode_once (bool): decode each video once for all frame counts;
            False runs one separate evaluation per frame count.
        logger: an ``MMLogger`` or its name (default: the current one).
        keep_scores (bool): also return each video's class scores.
        protocol (str | dict, optional): the test protocol
            (:mod:`~tsm_plugin.datasets.test_protocols`); default: the
            config's ``test_protocol``, else ``'efficient'``. The head's
            ``average_clips`` follows it for the sweep and is restored.
        complexity, flop_cache: see :func:`sweep_models`.

    Returns:
        dict: the report (the module's docstring lists its keys).
    """
    options = dict(
        decode_once=decode_once,
        logger=logger,
        keep_scores=keep_scores,
        protocol=protocol,
        complexity=complexity,
        flop_cache=flop_cache,
    )

    def trained(_name, cfg):
        return _config_trained(cfg, model)

    return _sweep({'model': model}, cfg, frames, trained, options)['model']


def run_sweep(
    cfg,
    checkpoint: Optional[str],
    frames: Sequence[int],
    decode_once: bool = True,
    work_dir: Optional[str] = None,
    keep_scores: bool = False,
    protocol=None,
) -> dict:
    """Load ``checkpoint`` as ``tools/test.py`` does and run the TFD sweep.

    The model comes from mmengine's Runner built from ``cfg`` with
    ``load_from=checkpoint``, exactly as ``tools/test.py`` builds it (device,
    model wrapper, the hooks' ``before_run``, checkpoint loading), so the
    numbers at the trained frame count equal ``tools/test.py``'s. The model is
    built and loaded once; the frame count then changes on it.

    Args:
        cfg (Config): a loaded config (``utils.config.load_config``); not
            modified.
        checkpoint (str, optional): the ``.pth`` file; None for a model
            that loads its own (an ``EnsembleRecognizer``'s members).
        frames, decode_once, keep_scores, protocol: see
            :func:`sweep_model`; the protocol is applied to the config
            before the model is built, as ``tools/test.py --protocol`` does.
        work_dir (str, optional): where the Runner logs (default: the
            config's ``work_dir``, else ``./work_dirs/tfd``).

    Returns:
        dict: :func:`sweep_model`'s report plus ``checkpoint``.

    Raises:
        InputError: a missing checkpoint.
    """
    from mmengine.runner import Runner

    if checkpoint is not None:  # None: the model holds its own weights
        existing_checkpoint(checkpoint)
    cfg = copy.deepcopy(cfg)
    apply_test_protocol(cfg, protocol)
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = (
        work_dir or cfg.get('work_dir') or osp.join('work_dirs', 'tfd')
    )
    runner = Runner.from_cfg(cfg)
    runner.logger.info(f'Device: {describe_device()}')
    runner.call_hook('before_run')
    runner.load_or_resume()
    report = sweep_model(
        runner.model,
        runner.cfg,
        frames,
        decode_once=decode_once,
        logger=runner.logger,
        keep_scores=keep_scores,
    )
    # The scalars, curve and plots to the config's visualizer (TensorBoard).
    log_to_visualizer(runner.visualizer, report)
    runner.call_hook('after_run')
    report['checkpoint'] = checkpoint
    return report
