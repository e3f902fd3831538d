"""Training sampler of FFN: one video at several frame counts, one decode.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (FFN) trains
each video at 16, 8 and 4 frames in the same iteration. This sampler draws
the TSN training indices for every count and concatenates them, largest
count first, so one ``VideoDecode`` and one spatial crop serve all the
frames (28 for 16/8/4), as the official code does; the FFN recognizer
splits them back by count.
"""

from typing import Optional, Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import ConfigValueError
from ..utils.config import check_frame_counts
from .transforms import segment_indices, set_frame_inds

MODES = ('independent', 'nested')


def multi_count_indices(
    total: int,
    frame_counts: Sequence[int],
    mode: str = 'independent',
    rng: Optional[np.random.RandomState] = None,
) -> np.ndarray:
    """Training frame indices of ``total`` frames at every frame count.

    The counts are taken largest first, ``n_0 > n_1 > ...``; the result is
    their index arrays concatenated in that order.

    * 'independent' (the official code): each count is TSN-sampled from
      the video on its own, ``segment_indices(total, n_k, False)``, in
      order, so the draws are independent.
    * 'nested': count ``n_0`` is TSN-sampled from the video; each next count
      is TSN-sampled from the previous count's indices,
      ``idx_k = idx_{k-1}[segment_indices(n_{k-1}, n_k, False)]``, i.e. the
      ``n_{k-1}`` positions are cut into ``n_k`` equal segments and a
      random position is taken in each. So 4 of 16/8/4 is a subset of 8,
      itself a subset of 16; when each count divides the previous one,
      each count also keeps one frame in each of its own ``n_k`` segments
      of the video, uniformly drawn among the largest count's frames there.

    Args:
        total (int): Frames in the video (>= 1).
        frame_counts (Sequence[int]): Distinct counts (>= 1), any order.
        mode (str): 'independent' or 'nested'.
        rng (np.random.RandomState, optional): Source of the random draws;
            ``np.random`` by default.

    Returns:
        np.ndarray: ``sum(frame_counts)`` int64 indices.
    """
    counts = sorted(frame_counts, reverse=True)
    parts = [segment_indices(total, counts[0], False, rng)]
    for count in counts[1:]:
        if mode == 'nested':
            prev = parts[-1]
            parts.append(prev[segment_indices(len(prev), count, False, rng)])
        else:
            parts.append(segment_indices(total, count, False, rng))
    return np.concatenate(parts)


@TRANSFORMS.register_module()
class MultiCountSampleFrames(BaseTransform):
    """TSN training sampling at several frame counts, concatenated.

    See :func:`multi_count_indices` for the exact rule of each ``mode``.
    Sets ``frame_inds`` (int64, ``sum(frame_counts)`` of them, largest count
    first), ``clip_len=1``, ``frame_interval=None``,
    ``num_clips=sum(frame_counts)`` (so ``FormatShape`` and the decoders
    work unchanged) and ``frame_counts`` (a tuple in index order; add it to
    ``PackActionInputs``' ``meta_keys`` and the FFN recognizer checks it
    against its backbone). For training only: the test pipeline samples one
    frame count with ``SegmentSampleFrames(test_mode=True)``. A config need
    not name it: one that sets ``frame_counts`` at its top level gets it in
    place of its training ``SegmentSampleFrames`` from tsm_plugin's config
    loader (:func:`~tsm_plugin.utils.config.set_frame_counts`).

    Args:
        frame_counts (Sequence[int]): Distinct counts >= 1. Defaults to
            (16, 8, 4), FFN's H/M/L.
        mode (str): 'independent' (default, the official code) or 'nested'.
    """

    def __init__(
        self,
        frame_counts: Sequence[int] = (16, 8, 4),
        mode: str = 'independent',
    ) -> None:
        counts = check_frame_counts(
            frame_counts, what='MultiCountSampleFrames frame_counts'
        )
        if mode not in MODES:
            raise ConfigValueError(
                f'MultiCountSampleFrames mode must be one '
                f'of {MODES}, got {mode!r}'
            )
        self.frame_counts = tuple(sorted(counts, reverse=True))
        self.mode = mode

    def transform(self, results: dict) -> dict:
        inds = multi_count_indices(
            results['total_frames'], self.frame_counts, self.mode
        )
        set_frame_inds(results, inds, sum(self.frame_counts))
        results['frame_counts'] = self.frame_counts
        return results

    def __repr__(self):
        return (
            f'{type(self).__name__}(frame_counts={self.frame_counts}, '
            f'mode={self.mode!r})'
        )
