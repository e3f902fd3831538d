"""Decode a video once, give one test sample per frame count.

The decode-once path of the TFD sweep (:mod:`tsm_plugin.evaluation.sweep`):
a test pipeline split around its sampler and decoder, so all frame counts
share one decoding of the union of their frames.
"""

import copy
from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import InputError
from ..utils.config import is_frame_sampler, type_name


def split_test_pipeline(pipeline: Sequence[dict]):
    """Split a test pipeline around its frame sampler and its decoder.

    Returns:
        tuple: ``(before, sampler, decode, after)``: the transforms before the
        sampler (opening the video), the sampler dict (the first that
        samples by ``num_clips``, ``is_frame_sampler``), the transforms up
        to and including the first ``*Decode`` one, and the rest (resize,
        crop, format, pack).

    Raises:
        InputError: if there is no sampler with ``num_clips``, it is not in
            test mode (random sampling cannot be compared across frame
            counts), or no ``*Decode`` transform follows it.
    """
    pipeline = list(pipeline)
    samplers = [i for i, t in enumerate(pipeline) if is_frame_sampler(t)]
    if not samplers:
        raise InputError(
            'test pipeline has no frame sampler with num_clips: '
            'cannot change its frame count'
        )
    s = samplers[0]
    sampler = pipeline[s]
    if not sampler.get('test_mode', False):
        raise InputError(
            f'test pipeline: {type_name(sampler)} needs '
            'test_mode=True (centre-of-segment sampling) for TFD'
        )
    decoders = [
        i
        for i in range(s + 1, len(pipeline))
        if type_name(pipeline[i]).endswith('Decode')
    ]
    if not decoders:
        raise InputError(
            'test pipeline has no *Decode transform after '
            f'{type_name(sampler)}'
        )
    d = decoders[0]
    return pipeline[:s], sampler, pipeline[s + 1 : d + 1], pipeline[d + 1 :]


def _build(transforms: Sequence[dict]) -> list:
    from mmaction.registry import TRANSFORMS

    return [
        TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t
        for t in transforms
    ]


def _apply(transforms: list, results: Optional[dict]) -> Optional[dict]:
    for t in transforms:
        if results is None:
            return None
        results = t(results)
    return results


class MultiFrameTestSample:
    """Decode a video once; give one test sample per frame count.

    A pipeline step that replaces a whole test pipeline. For each frame count
    ``T`` the config's sampler (``num_clips=T``, test mode: frame
    ``floor(seg * (i + 0.5))`` of segment ``i``, ``seg = total / T``) picks
    its indices; the union of all of them is decoded in one pass of the
    config's decoder; then each ``T`` takes its frames from that pass and
    goes through the rest of the config's pipeline (resize, crop, format,
    pack). The sample for ``T`` equals what the plain pipeline with
    ``num_clips=T`` gives, frame for frame.

    Args:
        pipeline (list[dict]): the config's test pipeline.
        frames (list[int]): distinct frame counts >= 1 (checked where they
            entered the sweep).

    Returns (``__call__``):
        dict: ``{T: packed sample}`` for each frame count.
    """

    def __init__(self, pipeline: Sequence[dict], frames: Sequence[int]):
        before, sampler, decode, after = split_test_pipeline(pipeline)
        self.frames = list(frames)
        self.before = _build(before)
        self.samplers = {
            t: _build([dict(sampler, num_clips=t)])[0] for t in self.frames
        }
        self.decode = _build(decode)
        self.after = _build(after)

    def __call__(self, results: dict) -> Optional[Dict[int, dict]]:
        results = _apply(self.before, results)
        if results is None:
            return None
        sampled = {t: s(dict(results)) for t, s in self.samplers.items()}
        inds = {
            t: np.asarray(r['frame_inds']).reshape(-1)
            for t, r in sampled.items()
        }
        union = np.unique(np.concatenate(list(inds.values())))
        # Decode the union as the largest frame count's sample would be.
        request = dict(sampled[max(self.frames)], frame_inds=union)
        decoded = _apply(self.decode, dict(request))
        if decoded is None:
            return None
        imgs = decoded['imgs']
        if len(imgs) != len(union):
            raise RuntimeError(
                f'decoder returned {len(imgs)} frames for {len(union)} '
                f'indices ({results.get("filename")})'
            )
        by_index = dict(zip(union.tolist(), imgs))
        # What the decoder set, replaced or removed (shapes, the released
        # reader) goes to every frame count alike; frames and indices are
        # per count.
        shared = {
            k: v
            for k, v in decoded.items()
            if k not in ('imgs', 'frame_inds')
            and (k not in request or v is not request[k])
        }
        removed = [k for k in request if k not in decoded]
        out = {}
        for t, r in sampled.items():
            r = dict(r, **shared)
            for k in removed:
                r.pop(k, None)
            # A copy per count: no transform can alter another count's frames.
            frames = [by_index[i].copy() for i in inds[t].tolist()]
            r['imgs'] = (
                np.stack(frames) if isinstance(imgs, np.ndarray) else frames
            )
            out[t] = _apply(self.after, r)
            if out[t] is None:
                return None
        return out

    def __repr__(self) -> str:
        return f'{type(self).__name__}(frames={self.frames})'
