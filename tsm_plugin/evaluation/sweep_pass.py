"""One pass of the TFD sweep over a test loader, for several models.

Each batch (at each frame count, :class:`~.multi_frame.MultiFrameTestSample`
or one loader per count) runs through every model; each (model, frame count)
has its own :class:`FrameCountEvaluator`. Used by :mod:`.sweep`.
"""

import contextlib
import copy
import dataclasses
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from ..datasets.test_protocols import AVERAGE, set_model_average_clips
from ..engine.hooks.eval_autocast_hook import used_precision
from ..models.frame_counts import frame_count
from ..utils.config import iter_datasets, set_num_frames
from .multi_frame import MultiFrameTestSample
from .per_class import ClassHits

__all__ = [
    'FrameCountEvaluator',
    'ModelsPass',
    'decode_once_pass',
    'evaluating',
    'precision_of',
    'result_rows',
    'separate_passes',
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


#: Each (model name, frame count)'s evaluator.
Evaluators = Dict[Tuple[str, int], FrameCountEvaluator]
#: Videos evaluated at each frame count.
Videos = Dict[int, int]


@dataclasses.dataclass
class ModelsPass:
    """What every pass over a test loader shares: the models (by name), the
    evaluator config, whether scores are kept, fp16 autocast, the logger."""

    models: Dict[str, torch.nn.Module]
    evaluator_cfg: object
    keep_scores: bool
    fp16: bool
    logger: object

    def __call__(
        self, loader, frames: Sequence[int], pick: Callable
    ) -> Evaluators:
        """One pass over ``loader``: each batch runs at each count ``T`` of
        ``frames`` on ``pick(batch, T)`` through every model (the batch is
        shared: a model's ``test_step`` leaves its input as it found it);
        returns each (model, count)'s evaluator."""
        from mmengine.runner.amp import autocast

        evaluators = {
            (name, t): FrameCountEvaluator(
                self.evaluator_cfg, loader.dataset, self.keep_scores
            )
            for name in self.models
            for t in frames
        }
        n = len(loader)
        every = max(1, n // 10)
        for i, batch in enumerate(loader):
            for t in frames:
                data = pick(batch, t)
                for name, model in self.models.items():
                    with frame_count(model, t), torch.no_grad():
                        with autocast(enabled=self.fp16):
                            outputs = model.test_step(data)
                    evaluators[name, t].process(outputs, data)
            if (i + 1) % every == 0 or i + 1 == n:
                print_log(f'TFD: batch {i + 1}/{n}', logger=self.logger)
        return evaluators


def decode_once_pass(
    run: ModelsPass, loader_cfg, frames: Sequence[int]
) -> Tuple[Evaluators, Videos]:
    """Every frame count in one pass, each video decoded once for all of
    them (:class:`~.multi_frame.MultiFrameTestSample`)."""
    from mmengine.runner import Runner

    loader_cfg = copy.deepcopy(loader_cfg)
    workers = loader_cfg.get('num_workers', 0)
    for ds in iter_datasets({'loader': loader_cfg}, ('loader',)):
        ds['pipeline'] = [MultiFrameTestSample(ds['pipeline'], frames)]
        if not workers:
            # mmengine serializes the annotations for worker processes to
            # share, after a full gc.collect() (~0.15 s beside a model);
            # with no workers that buys nothing.
            ds.setdefault('serialize_data', False)
    loader = Runner.build_dataloader(loader_cfg)
    evaluators = run(loader, frames, lambda batch, t: batch[t])
    return evaluators, {t: len(loader.dataset) for t in frames}


def separate_passes(
    run: ModelsPass, cfg, stage: str, frames: Sequence[int]
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


def result_rows(
    evaluators: Dict[int, FrameCountEvaluator],
    num_videos: Videos,
    frames: Sequence[int],
    trained: int,
    logger,
    tag: str = '',
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
            f'TFD{tag}: {t:>3} frames: top-1 {100 * row["top1"]:.2f} '
            f'top-5 {100 * row.get("top5", float("nan")):.2f} '
            f'({row["num_videos"]} videos)',
            logger=logger,
        )
    return rows


def precision_of(model: torch.nn.Module, fp16: bool) -> str:
    """The precision the sweep ran in: EvalAutocastHook's (fp32 unless
    told), else mmengine's ``test_cfg.fp16``."""
    used = used_precision(model, 'test')
    if used or not fp16:
        return used or 'fp32'
    return 'fp16' if torch.cuda.is_available() else 'bf16'


@contextlib.contextmanager
def evaluating(model: torch.nn.Module, spec: dict) -> Iterator[None]:
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
