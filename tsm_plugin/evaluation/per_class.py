"""Per-class top-1 of a TFD sweep: which classes lose most with fewer frames.

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817) is
first a question about classes: a class told apart by its motion
("Pushing something from left to right" against "... right to left") needs
the frames a static one does not. Each frame count's videos are counted per
ground-truth class, hit or miss at top-1 as mmaction2's ``AccMetric`` scores
them (:class:`ClassHits`, during the sweep); from a sweep's report, the
per-class top-1 and the classes that lose most (:func:`classes_lost_most`),
which :mod:`.tables` and :mod:`.plots` present.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

TOP_CLASSES = 10  # classes listed as losing most


class ClassHits:
    """Top-1 hits per ground-truth class, gathered over the ranks.

    Args:
        names (Sequence[str], optional): class names by index (the dataset's
            ``metainfo['classes']``).
    """

    def __init__(self, names: Optional[Sequence[str]] = None):
        self.names = list(names) if names else None
        self.hits: List[tuple] = []  # (label, hit) per video on this rank
        self.num_classes = 0

    def update(self, outputs) -> None:
        """Count the predictions of one batch (``ActionDataSample`` s)."""
        for sample in outputs:
            score = sample.pred_score.detach().float().cpu().numpy()
            label = int(sample.gt_label.reshape(-1)[0])
            # AccMetric's top-1 (mmaction2 top_k_accuracy): argsort's last.
            self.hits.append((label, int(np.argsort(score)[-1] == label)))
            self.num_classes = max(self.num_classes, score.shape[-1])

    def counts(self, size: int) -> Dict[str, List[int]]:
        """``class_correct`` and ``class_videos`` per class index, over every
        rank's ``size`` videos (a collective: call it on every rank)."""
        from mmengine.dist import broadcast_object_list, collect_results

        hits = collect_results(self.hits, size, device='cpu')
        shared = [hits, self.num_classes]  # rank 0's, to every rank
        broadcast_object_list(shared)
        hits, num_classes = shared
        correct = [0] * num_classes
        videos = [0] * num_classes
        for label, hit in hits:
            videos[label] += 1
            correct[label] += hit
        return dict(class_correct=correct, class_videos=videos)


def class_rows(report: dict) -> List[dict]:
    """The rows that carry per-class hits (``class_correct``)."""
    return [r for r in report['results'] if 'class_correct' in r]


def class_name(report: dict, index: int) -> str:
    """Class ``index``'s name in the report's ``classes`` ('' if none)."""
    names = report.get('classes') or []
    return str(names[index]) if index < len(names) else ''


def per_class_top1(row: dict) -> List[Optional[float]]:
    """One frame count's top-1 per class index (``None``: no video)."""
    return [
        c / n if n else None
        for c, n in zip(row['class_correct'], row['class_videos'])
    ]


def drop_counts(report: dict) -> Optional[Tuple[int, int]]:
    """``(from, to)``: the trained frame count (else the largest evaluated)
    and the smallest evaluated; ``None`` if they are the same."""
    frames = [r['frames'] for r in class_rows(report)]
    if not frames:
        return None
    trained = report['trained_frames']
    high = trained if trained in frames else max(frames)
    low = min(frames)
    return None if low == high else (high, low)


def classes_lost_most(report: dict, k: int = TOP_CLASSES) -> List[dict]:
    """The ``k`` classes whose top-1 drops most from the trained frame count
    to the smallest (:func:`drop_counts`), largest drop first, ties by class
    index; classes that do not lose are left out.

    Returns:
        list[dict]: ``class``, ``name``, ``videos``, ``top1_from``,
        ``top1_to`` (fractions) and ``change`` (``top1_to - top1_from``).
    """
    counts = drop_counts(report)
    if counts is None:
        return []
    rows = {r['frames']: r for r in class_rows(report)}
    high, low = (per_class_top1(rows[t]) for t in counts)
    videos = rows[counts[0]]['class_videos']
    lost = [
        dict(
            name=class_name(report, i),
            videos=videos[i],
            top1_from=a,
            top1_to=b,
            change=b - a,
            **{'class': i},
        )
        for i, (a, b) in enumerate(zip(high, low))
        if a is not None and b is not None and b < a
    ]
    lost.sort(key=lambda c: (c['change'], c['class']))
    return lost[:k]
