"""Per-class top-1 of a TFD sweep: which classes lose most with fewer frames.

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817) is
first a question about classes: a class told apart by its motion
("Pushing something from left to right" against "... right to left") needs
the frames a static one does not. Each frame count's videos are counted per
ground-truth class, hit or miss at top-1 as mmaction2's ``AccMetric`` scores
them.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np


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
