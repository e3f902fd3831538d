"""What every frame reader gives, and the one error a user's video raises.

The readers of :mod:`.video_io` (PyAV, decord) and :mod:`.frame_bundle`
(JPEG bundles) share :class:`FrameReader`: ``num_frames``,
``get_frames(indices)`` (RGB ``uint8`` arrays) and ``close()``. A file that
cannot be read raises :class:`VideoReadError`, one line naming the file and
the reason. A leaf of the datasets package: no decoder, no registry.
"""

import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from ..errors import InputError


class VideoReadError(InputError, OSError):
    """A video that cannot be read; the message names the file and why."""


def read_error(path: str, reason) -> VideoReadError:
    """The error for ``path``: ``cannot read video PATH: REASON``, one line."""
    reason = ' '.join(str(reason).split())
    return VideoReadError(f'cannot read video {path}: {reason}')


def check_file(path: str) -> None:
    """Raise :class:`VideoReadError` for a missing or empty file."""
    if not osp.isfile(path):
        raise read_error(path, 'file not found')
    if os.path.getsize(path) == 0:
        raise read_error(path, 'empty file (0 bytes)')


class FrameReader:
    """What every reader gives: ``num_frames``, ``get_frames(indices)`` (a
    list of ``(H, W, 3)`` RGB uint8 arrays, one per index) and ``close()``;
    a context manager."""

    path: str
    num_frames: int

    def _check_indices(self, indices: Sequence[int]) -> List[int]:
        idx = [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < self.num_frames]
        if bad:
            raise IndexError(
                f'{self.path}: frame {bad[0]} out of range '
                f'(0..{self.num_frames - 1})'
            )
        return idx

    @staticmethod
    def _in_order(
        idx: List[int], frames: Dict[int, np.ndarray]
    ) -> List[np.ndarray]:
        """``frames[i]`` for each index; a repeated index (a short video)
        gets its own copy: in-place transforms (mmcv.imflip_) must not flip
        a shared frame twice."""
        out, seen = [], set()
        for i in idx:
            out.append(frames[i].copy() if i in seen else frames[i])
            seen.add(i)
        return out

    def get_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (
            f'{type(self).__name__}({self.path!r}, '
            f'num_frames={self.num_frames})'
        )
