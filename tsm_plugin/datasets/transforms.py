"""Pipeline steps that open a video, sample TSN segments and decode them.

A video pipeline reads::

    dict(type='VideoInit'),                       # open, count frames
    dict(type='SegmentSampleFrames', num_clips=16),  # pick 16 indices
    dict(type='VideoDecode'),                     # decode just those
    ...mmaction2's Resize / MultiScaleCrop / FormatShape / PackActionInputs

The sampler sets the same keys as mmaction2's ``SampleFrames`` (``frame_inds``,
``clip_len=1``, ``frame_interval=None``, ``num_clips``), so the stock
``FormatShape`` and ``Recognizer2D`` take its output unchanged.

TSN segment sampling (TSN, https://arxiv.org/abs/1608.00859; the sampling
TSM trains and tests with, https://arxiv.org/abs/1811.08383): the video is
cut into ``num_clips`` equal segments with float boundaries; training takes a
random frame in each, testing the centre one. The frame-count sweep of the
TFD study (https://arxiv.org/abs/2303.14817) changes ``num_clips``.
"""

from typing import Optional

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import ConfigValueError
from .video_io import open_video, resolve_backend


def segment_indices(
    total: int,
    num_clips: int,
    test_mode: bool,
    rng: Optional[np.random.RandomState] = None,
) -> np.ndarray:
    """TSN segment sampling of ``num_clips`` frame indices from ``total``.

    With ``seg = total / num_clips`` (a float), segment ``i`` covers
    ``[seg * i, seg * (i + 1))``:

    * training: ``floor(seg * i + u_i * seg)`` with ``u_i ~ U[0, 1)``;
    * test: ``floor(seg * (i + 0.5))``, TSM's test rule.

    A video shorter than ``num_clips`` repeats indices; none is dropped.

    Args:
        total (int): Frames in the video (>= 1).
        num_clips (int): Frames to sample (>= 1).
        test_mode (bool): Centre of each segment instead of a random frame.
        rng (np.random.RandomState, optional): Source of the ``u_i``;
            ``np.random`` (which mmengine seeds per worker) by default.

    Returns:
        np.ndarray: ``num_clips`` int64 indices, non-decreasing.
    """
    if total < 1 or num_clips < 1:
        raise ValueError(
            f'need total >= 1 and num_clips >= 1, got total='
            f'{total}, num_clips={num_clips}'
        )
    seg = total / num_clips
    starts = seg * np.arange(num_clips)
    if test_mode:
        inds = starts + seg / 2
    else:
        inds = starts + (rng or np.random).rand(num_clips) * seg
    # float rounding must never reach `total`
    return np.minimum(np.floor(inds), total - 1).astype(np.int64)


def set_frame_inds(results: dict, frame_inds, num_clips: int) -> dict:
    """Set the keys mmaction2's ``SampleFrames`` sets: ``frame_inds``,
    ``clip_len=1``, ``frame_interval=None`` and ``num_clips`` (so
    ``FormatShape`` and ``Recognizer2D`` work unchanged); returns
    ``results``."""
    results['frame_inds'] = frame_inds
    results['clip_len'] = 1
    results['frame_interval'] = None
    results['num_clips'] = num_clips
    return results


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open ``results['filename']`` with decord or PyAV.

    Sets ``video_reader`` (see :func:`~tsm_plugin.datasets.video_io.
    open_video`) and ``total_frames``.

    Args:
        backend (str): 'auto' (decord if installed, else PyAV), 'decord' or
            'pyav'.
        num_threads (int): Decoder threads per video; 1 suits dataloader
            workers, which already decode in parallel.
    """

    def __init__(self, backend: str = 'auto', num_threads: int = 1):
        self.backend = backend
        # resolved (and logged) here, in the process that builds the
        # pipeline, not again in every dataloader worker
        self._backend = resolve_backend(backend)
        self.num_threads = num_threads

    def transform(self, results: dict) -> dict:
        reader = open_video(
            results['filename'], self._backend, self.num_threads
        )
        results['video_reader'] = reader
        results['total_frames'] = reader.num_frames
        return results

    def __repr__(self):
        return (
            f'{type(self).__name__}(backend={self.backend!r}, '
            f'num_threads={self.num_threads})'
        )


@TRANSFORMS.register_module()
class SegmentSampleFrames(BaseTransform):
    """TSN segment sampling: one frame from each of ``num_clips`` segments.

    See :func:`segment_indices` for the exact rule. Sets ``frame_inds``
    (int64), ``clip_len=1``, ``frame_interval=None`` and ``num_clips``, as
    mmaction2's ``SampleFrames`` does, so ``FormatShape`` and
    ``Recognizer2D`` work unchanged.

    Args:
        num_clips (int): Frames per video (the name mmaction2's samplers use,
            and the one the TFD tool changes).
        test_mode (bool): Centre of each segment (evaluation) instead of a
            random frame in it (training).
    """

    def __init__(self, num_clips: int = 16, test_mode: bool = False):
        if int(num_clips) != num_clips or num_clips < 1:
            raise ConfigValueError(
                f'num_clips must be an integer >= 1, got {num_clips!r}'
            )
        self.num_clips = int(num_clips)
        self.test_mode = test_mode

    def transform(self, results: dict) -> dict:
        inds = segment_indices(
            results['total_frames'], self.num_clips, self.test_mode
        )
        return set_frame_inds(results, inds, self.num_clips)

    def __repr__(self):
        return (
            f'{type(self).__name__}(num_clips={self.num_clips}, '
            f'test_mode={self.test_mode})'
        )


@TRANSFORMS.register_module()
class VideoDecode(BaseTransform):
    """Decode the frames at ``results['frame_inds']``, then drop the reader.

    Sets ``imgs`` (a list of (H, W, 3) RGB uint8 arrays, one per index, in
    index order), ``img_shape`` and ``original_shape`` ((H, W)).
    """

    def transform(self, results: dict) -> dict:
        reader = results.pop('video_reader')
        try:
            inds = np.asarray(results['frame_inds']).reshape(-1)
            imgs = reader.get_frames(inds.tolist())
        finally:
            reader.close()
        results['imgs'] = imgs
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        return results
