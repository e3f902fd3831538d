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
``cls_head.num_segments`` (no weight reload) and the sampler's
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
"""

import copy
import os.path as osp
import time
from typing import Dict, Optional, Sequence

import torch
from mmengine.logging import print_log

from ..datasets.test_protocols import (
    AVERAGE,
    apply_test_protocol,
    describe_protocol,
    resolve_protocol,
    set_model_average_clips,
)
from ..engine.checkpoint import existing_checkpoint
from ..engine.hooks.eval_autocast_hook import used_precision
from ..utils.config import (
    check_frames,
    eval_stage,
    get_num_frames,
    iter_datasets,
    set_num_frames,
)
from ..utils.device import describe_device
from .complexity import add_complexity
from .multi_frame import MultiFrameTestSample
from .per_class import ClassHits
from .report import log_to_visualizer


def set_model_num_frames(model: torch.nn.Module, num_frames: int) -> int:
    """Make a built model run ``num_frames`` frames per clip, weights kept.

    Sets ``num_segments`` on every module that has one: the backbone (whose
    shift modules follow it), the head's consensus, and any temporal shift
    module holding its own copy (mmaction2's ``ResNetTSM``).

    Args:
        model (nn.Module): a recognizer, possibly in a model wrapper.
        num_frames (int): frames per clip.

    Returns:
        int: the number of modules changed.

    Raises:
        ValueError: if no module has ``num_segments`` (not a TSM model).
    """
    from mmengine.model import is_model_wrapper

    if is_model_wrapper(model):
        model = model.module
    changed = 0
    for module in model.modules():
        if hasattr(module, 'num_segments'):
            module.num_segments = num_frames
            changed += 1
    if not changed:
        raise ValueError(f'{type(model).__name__} has no num_segments to set')
    return changed


class FrameCountEvaluator:
    """One frame count's evaluator (built as ``Runner.build_evaluator``
    builds one), and optionally the per-video scores."""

    def __init__(self, evaluator_cfg, dataset, keep_scores: bool):
        from mmengine.evaluator import Evaluator
        from mmengine.registry import EVALUATOR

        evaluator_cfg = copy.deepcopy(evaluator_cfg)
        # As Runner.build_evaluator does.
        if isinstance(evaluator_cfg, dict) and 'metrics' in evaluator_cfg:
            evaluator_cfg.setdefault('type', 'Evaluator')
            self.evaluator = EVALUATOR.build(evaluator_cfg)
        else:
            self.evaluator = Evaluator(evaluator_cfg)
        if hasattr(dataset, 'metainfo'):
            self.evaluator.dataset_meta = dataset.metainfo
        self.scores: Optional[list] = [] if keep_scores else None
        self.class_hits = ClassHits(
            getattr(dataset, 'metainfo', {}).get('classes')
        )
        self.input_shape = None  # one sample's, for the FLOP count

    def process(self, outputs, data_batch) -> None:
        if self.input_shape is None:
            self.input_shape = tuple(data_batch['inputs'][0].shape)
        self.class_hits.update(outputs)
        if self.scores is not None:
            self.scores.extend(o.pred_score.detach().cpu() for o in outputs)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)


def _run(
    model,
    net,
    loader,
    counts: Dict[int, FrameCountEvaluator],
    fp16: bool,
    logger,
    pick,
) -> None:
    """One pass over ``loader``; ``pick(batch, T)`` is the batch for ``T``."""
    from mmengine.runner.amp import autocast

    n = len(loader)
    every = max(1, n // 10)
    for i, batch in enumerate(loader):
        for t, count in counts.items():
            set_model_num_frames(net, t)
            data = pick(batch, t)
            with torch.no_grad(), autocast(enabled=fp16):
                outputs = model.test_step(data)
            count.process(outputs, data)
        if (i + 1) % every == 0 or i + 1 == n:
            print_log(f'TFD: batch {i + 1}/{n}', logger=logger)


def sweep_model(
    model: torch.nn.Module,
    cfg,
    frames: Sequence[int],
    decode_once: bool = True,
    logger=None,
    keep_scores: bool = False,
    protocol=None,
) -> dict:
    """Evaluate a built model at each frame count of ``frames``.

    The model is set to eval mode and each frame count in turn; its mode and
    frame count are restored afterwards. Runs on every rank under a
    distributed launcher (the sampler shards, the evaluator gathers).

    Args:
        model (nn.Module): the recognizer (a model wrapper is fine).
        cfg (Config): the config it was built from; its test dataloader,
            test pipeline and test evaluator define the protocol.
        frames (list[int]): frame counts to evaluate.
        decode_once (bool): decode each video once for all frame counts;
            False runs one separate evaluation per frame count.
        logger: an ``MMLogger`` or its name (default: the current one).
        keep_scores (bool): also return each video's class scores.
        protocol (str | dict, optional): the test protocol
            (:mod:`~tsm_plugin.datasets.test_protocols`: views, crops, score
            averaging); default: the config's ``test_protocol``, else
            ``'efficient'`` (the config's own test pipeline). The head's
            ``average_clips`` follows it for the sweep and is restored.

    Returns:
        dict: ``protocol`` (``describe_protocol``), ``precision``,
        ``trained_frames``, ``decode_once``, ``seconds``, ``stage``
        and ``results``, a list with one dict per frame count: ``frames``,
        ``top1``, ``top5`` (fractions, as ``AccMetric`` gives them),
        ``mean1``, ``num_videos``, ``trained_frames`` (and ``scores``, an
        ``N x classes`` tensor in dataset order, if ``keep_scores``);
        per class (``per_class.ClassHits``) ``class_correct`` and
        ``class_videos``, with the names in the report's ``classes``; and
        one clip's ``gflops`` and ``params_m`` (``complexity.add_complexity``).
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    logger = logger or 'current'
    frames = check_frames(frames)
    spec = resolve_protocol(protocol, cfg)
    cfg = copy.deepcopy(cfg)
    apply_test_protocol(cfg, spec)
    trained = get_num_frames(cfg)
    stage, loader_cfg, evaluator_cfg = eval_stage(cfg)
    fp16 = bool((cfg.get(f'{stage}_cfg') or {}).get('fp16', False))
    net = model.module if is_model_wrapper(model) else model
    was_training = net.training
    before = getattr(getattr(net, 'backbone', None), 'num_segments', trained)
    average = AVERAGE.get(spec['type'])  # None: the head's own
    average_before = set_model_average_clips(net, average) if average else 0
    start = time.perf_counter()
    print_log(
        f'TFD: {len(frames)} frame counts {frames}, trained at '
        f'{trained}, {"decode once" if decode_once else "separate"}',
        logger=logger,
    )
    print_log(
        f'TFD: protocol {spec["type"]}: {describe_protocol(spec)["summary"]}',
        logger=logger,
    )
    model.eval()
    try:
        if decode_once:
            loader_cfg = copy.deepcopy(loader_cfg)
            for ds in iter_datasets({'loader': loader_cfg}, ('loader',)):
                ds['pipeline'] = [MultiFrameTestSample(ds['pipeline'], frames)]
            loader = Runner.build_dataloader(loader_cfg)
            counts = {
                t: FrameCountEvaluator(
                    evaluator_cfg, loader.dataset, keep_scores
                )
                for t in frames
            }
            _run(
                model,
                net,
                loader,
                counts,
                fp16,
                logger,
                lambda batch, t: batch[t],
            )
            num_videos = {t: len(loader.dataset) for t in frames}
        else:
            counts, num_videos = {}, {}
            for t in frames:
                cfg_t = copy.deepcopy(cfg)
                set_num_frames(cfg_t, t)
                loader = Runner.build_dataloader(cfg_t[f'{stage}_dataloader'])
                counts_t = {
                    t: FrameCountEvaluator(
                        evaluator_cfg, loader.dataset, keep_scores
                    )
                }
                _run(
                    model,
                    net,
                    loader,
                    counts_t,
                    fp16,
                    logger,
                    lambda batch, _: batch,
                )
                counts.update(counts_t)
                num_videos[t] = len(loader.dataset)
        results = []
        for t in frames:
            metrics = counts[t].evaluator.evaluate(num_videos[t])
            row = dict(
                frames=t, trained_frames=trained, num_videos=num_videos[t]
            )
            for key, value in metrics.items():
                row[key.split('/')[-1]] = float(value)
            row.update(counts[t].class_hits.counts(num_videos[t]))
            if keep_scores:
                row['scores'] = torch.stack(counts[t].scores)
            results.append(row)
            print_log(
                f'TFD: {t:>3} frames: top-1 {100 * row["top1"]:.2f} '
                f'top-5 {100 * row.get("top5", float("nan")):.2f} '
                f'({row["num_videos"]} videos)',
                logger=logger,
            )
        counts_first = counts[frames[0]]
        input_shape = counts_first.input_shape
    finally:
        set_model_num_frames(net, before)
        if average:
            set_model_average_clips(net, average_before)
        net.train(was_training)
    seconds = time.perf_counter() - start
    print_log(f'TFD: done in {seconds:.1f} s', logger=logger)
    # Every count a multi-branch model (FFN) trained at; TSM: the one.
    counts = cfg.model.backbone.get('frame_counts') or (trained,)
    # EvalAutocastHook's (fp32 unless told); else mmengine's test_cfg.fp16.
    precision = used_precision(model, 'test') or (
        ('fp16' if torch.cuda.is_available() else 'bf16') if fp16 else 'fp32'
    )
    report = dict(
        precision=precision,
        trained_frames=trained,
        trained_counts=sorted(int(c) for c in counts),
        decode_once=decode_once,
        seconds=round(seconds, 3),
        stage=stage,
        results=results,
    )
    report['classes'] = counts_first.class_hits.names
    report['protocol'] = describe_protocol(spec)
    # GFLOPs and parameters per frame count, at the size the sweep fed.
    return add_complexity(report, model, input_shape, logger=logger)


def run_sweep(
    cfg,
    checkpoint: str,
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
        checkpoint (str): the ``.pth`` file.
        frames, decode_once, keep_scores, protocol: see
            :func:`sweep_model`; the protocol is applied to the config
            before the model is built, as ``tools/test.py --protocol`` does.
        work_dir (str, optional): where the Runner logs (default: the
            config's ``work_dir``, else ``./work_dirs/tfd``).

    Returns:
        dict: :func:`sweep_model`'s report plus ``checkpoint``.

    Raises:
        InputError: a missing checkpoint or a bad frame count.
    """
    from mmengine.runner import Runner

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
