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

The report (:func:`sweep_model`) holds ``precision``, ``trained_frames``,
``trained_counts`` (all of an FFN's branches), ``decode_once``, ``seconds``,
``stage``, ``classes``, ``protocol`` (``describe_protocol``) and ``results``,
one dict per frame count: ``frames``, ``top1``, ``top5`` (fractions, as
``AccMetric`` gives them), ``mean1``, ``num_videos``, ``trained_frames``, per
class ``class_correct`` and ``class_videos`` (:class:`~.per_class.
ClassHits`), one clip's ``gflops`` and ``params_m`` (:mod:`.complexity`),
and with ``keep_scores`` ``scores`` (``N x classes``, in dataset order).
"""

import contextlib
import copy
import dataclasses
import os.path as osp
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

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
from ..models.frame_counts import frame_count
from ..utils.config import (
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

__all__ = [
    'FrameCountEvaluator',
    'run_sweep',
    'sweep_model',
]


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


#: Each frame count's evaluator.
Evaluators = Dict[int, FrameCountEvaluator]
#: Videos evaluated at each frame count.
Videos = Dict[int, int]


@dataclasses.dataclass
class _Pass:
    """What every pass over a test loader shares: the model, the evaluator
    config, whether scores are kept, fp16 autocast and the logger."""

    model: torch.nn.Module
    evaluator_cfg: object
    keep_scores: bool
    fp16: bool
    logger: object

    def __call__(
        self, loader, frames: Sequence[int], pick: Callable
    ) -> Evaluators:
        """One pass over ``loader``: each batch runs at each count ``T`` of
        ``frames`` on ``pick(batch, T)``; returns each count's evaluator."""
        from mmengine.runner.amp import autocast

        evaluators = {
            t: FrameCountEvaluator(
                self.evaluator_cfg, loader.dataset, self.keep_scores
            )
            for t in frames
        }
        n = len(loader)
        every = max(1, n // 10)
        for i, batch in enumerate(loader):
            for t, evaluator in evaluators.items():
                data = pick(batch, t)
                with frame_count(self.model, t), torch.no_grad():
                    with autocast(enabled=self.fp16):
                        outputs = self.model.test_step(data)
                evaluator.process(outputs, data)
            if (i + 1) % every == 0 or i + 1 == n:
                print_log(f'TFD: batch {i + 1}/{n}', logger=self.logger)
        return evaluators


def _decode_once(
    run: _Pass, loader_cfg, frames: Sequence[int]
) -> Tuple[Evaluators, Videos]:
    """Every frame count in one pass, each video decoded once for all of
    them (:class:`~.multi_frame.MultiFrameTestSample`)."""
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(loader_cfg)
    for ds in iter_datasets({'loader': loader_cfg}, ('loader',)):
        ds['pipeline'] = [MultiFrameTestSample(ds['pipeline'], frames)]
    loader = Runner.build_dataloader(loader_cfg)
    evaluators = run(loader, frames, lambda batch, t: batch[t])
    return evaluators, {t: len(loader.dataset) for t in frames}


def _separate(
    run: _Pass, cfg, stage: str, frames: Sequence[int]
) -> Tuple[Evaluators, Videos]:
    """One pass per frame count, with the config's pipeline at that count
    (as ``tools/test.py --num-frames`` runs it)."""
    from mmengine.runner import Runner

    evaluators, num_videos = {}, {}
    for t in frames:
        cfg_t = copy.deepcopy(cfg)
        set_num_frames(cfg_t, t)
        loader = Runner.build_dataloader(cfg_t[f'{stage}_dataloader'])
        evaluators.update(run(loader, [t], lambda batch, _: batch))
        num_videos[t] = len(loader.dataset)
    return evaluators, num_videos


def _rows(
    evaluators: Evaluators,
    num_videos: Videos,
    frames: Sequence[int],
    trained: int,
    logger,
) -> List[dict]:
    """The report's ``results``: one row per frame count, logged."""
    rows = []
    for t in frames:
        evaluator = evaluators[t]
        metrics = evaluator.evaluator.evaluate(num_videos[t])
        row = dict(frames=t, trained_frames=trained, num_videos=num_videos[t])
        for key, value in metrics.items():
            row[key.split('/')[-1]] = float(value)
        row.update(evaluator.class_hits.counts(num_videos[t]))
        if evaluator.scores is not None:
            row['scores'] = torch.stack(evaluator.scores)
        rows.append(row)
        print_log(
            f'TFD: {t:>3} frames: top-1 {100 * row["top1"]:.2f} '
            f'top-5 {100 * row.get("top5", float("nan")):.2f} '
            f'({row["num_videos"]} videos)',
            logger=logger,
        )
    return rows


def _precision(model: torch.nn.Module, fp16: bool) -> str:
    """The precision the sweep ran in: EvalAutocastHook's (fp32 unless
    told), else mmengine's ``test_cfg.fp16``."""
    used = used_precision(model, 'test')
    if used or not fp16:
        return used or 'fp32'
    return 'fp16' if torch.cuda.is_available() else 'bf16'


@contextlib.contextmanager
def _evaluating(model: torch.nn.Module, spec: dict) -> Iterator[None]:
    """Eval mode, and the head's ``average_clips`` as the protocol says;
    both restored on exit."""
    from mmengine.model import is_model_wrapper

    net = model.module if is_model_wrapper(model) else model
    was_training = net.training
    average = AVERAGE.get(spec['type'])  # None: the head's own
    average_before = set_model_average_clips(net, average) if average else 0
    model.eval()
    try:
        yield
    finally:
        if average:
            set_model_average_clips(net, average_before)
        net.train(was_training)


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

    Returns:
        dict: the report (the module's docstring lists its keys).
    """
    logger = logger or 'current'
    frames = list(frames)
    spec = resolve_protocol(protocol, cfg)
    cfg = copy.deepcopy(cfg)
    apply_test_protocol(cfg, spec)
    trained = get_num_frames(cfg)
    stage, loader_cfg, evaluator_cfg = eval_stage(cfg)
    fp16 = bool((cfg.get(f'{stage}_cfg') or {}).get('fp16', False))
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
    run = _Pass(model, evaluator_cfg, keep_scores, fp16, logger)
    with _evaluating(model, spec):
        if decode_once:
            evaluators, num_videos = _decode_once(run, loader_cfg, frames)
        else:
            evaluators, num_videos = _separate(run, cfg, stage, frames)
        results = _rows(evaluators, num_videos, frames, trained, logger)
    seconds = time.perf_counter() - start
    print_log(f'TFD: done in {seconds:.1f} s', logger=logger)
    # Every count a multi-branch model (FFN) trained at; TSM: the one.
    trained_counts = cfg.model.backbone.get('frame_counts') or (trained,)
    first = evaluators[frames[0]]
    report = dict(
        precision=_precision(model, fp16),
        trained_frames=trained,
        trained_counts=sorted(int(c) for c in trained_counts),
        decode_once=decode_once,
        seconds=round(seconds, 3),
        stage=stage,
        results=results,
        classes=first.class_hits.names,
        protocol=describe_protocol(spec),
    )
    # GFLOPs and parameters per frame count, at the size the sweep fed.
    return add_complexity(report, model, first.input_shape, logger=logger)


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
        InputError: a missing checkpoint.
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
