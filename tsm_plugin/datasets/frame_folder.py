"""One video as a folder of numbered JPEG frames (Something-Something V1).

SSv1 (https://arxiv.org/abs/1706.04261) ships each video as
``20bn-something-something-v1/<id>/00001.jpg, 00002.jpg, ...``: frames
numbered from 1, ``%05d.jpg``. The TSM repository
(https://arxiv.org/abs/1811.08383) reads frame ``offset + 1`` for a 0-based
sampled offset (``image_tmpl='{:05d}.jpg'``) and counts a folder's frames
with ``os.listdir``; FFN (https://arxiv.org/abs/2303.14817) uses its lists.
:class:`FrameFolderReader` does the same: index ``i`` is ``{i+1:05d}.jpg``
and ``num_frames`` is the number of ``.jpg`` files in the folder, listed
once per open (``os.scandir``: one directory read, no stat per file).

The numbering must be complete: ``00001.jpg`` to ``N.jpg`` for the ``N``
``.jpg`` files present. A missing or empty folder, a gap in the numbering
or a frame that does not decode raises
:class:`~.frame_reader.VideoReadError` (one line naming the folder and the
frame), so the datasets' ``on_bad_video`` policy applies. Other files
(``.DS_Store``...) are ignored. JPEGs decode with OpenCV
(:func:`~.frame_bundle.decode_jpeg`). A leaf of the datasets package.
"""

import os
import os.path as osp
from typing import List, Sequence

import numpy as np

from .frame_bundle import BundleFormatError, decode_jpeg
from .frame_reader import FrameReader, read_error

#: The name of frame ``i`` (0-based): SSv1's ``%05d.jpg``, numbered from 1.
FRAME_TEMPLATE = '{:05d}.jpg'


def frame_name(index: int) -> str:
    """The file of 0-based frame ``index``: ``{index + 1:05d}.jpg``."""
    return FRAME_TEMPLATE.format(index + 1)


def count_frames(path: str) -> int:
    """The number of frames in the folder ``path``, checked complete.

    Raises:
        VideoReadError: a missing or unreadable folder, no ``.jpg`` file,
            or a numbering other than ``00001.jpg`` .. ``N.jpg``.
    """
    try:
        with os.scandir(path) as entries:
            names = {e.name for e in entries if e.name.endswith('.jpg')}
    except FileNotFoundError:
        raise read_error(path, 'frame folder not found') from None
    except NotADirectoryError:
        raise read_error(path, 'not a frame folder') from None
    except OSError as err:
        raise read_error(path, err.strerror or err) from None
    if not names:
        raise read_error(path, 'no frames (no 00001.jpg ... in the folder)')
    n = len(names)
    for i in range(n):
        if frame_name(i) not in names:
            extra = sorted(names - {frame_name(k) for k in range(n)})
            raise read_error(
                path,
                f'frame {frame_name(i)} is missing: the numbering of its '
                f'{n} .jpg files has a gap (first unexpected: {extra[0]})',
            )
    return n


class FrameFolderReader(FrameReader):
    """Reads an SSv1 frame folder: one JPEG decode per requested frame.

    Opening lists the folder once (:func:`count_frames`); :meth:`get_frames`
    reads and decodes just the requested frames.

    Args:
        path (str): The folder holding ``00001.jpg`` ...

    Raises:
        VideoReadError: see :func:`count_frames` (and, from
            :meth:`get_frames`, a frame that cannot be read or decoded).
    """

    def __init__(self, path: str):
        self.path = path
        self.num_frames = count_frames(path)

    def _read(self, i: int) -> np.ndarray:
        name = frame_name(i)
        try:
            with open(osp.join(self.path, name), 'rb') as f:
                data = f.read()
        except OSError as err:
            raise read_error(
                self.path, f'frame {name}: {err.strerror or err}'
            ) from None
        if not data:  # (OpenCV asserts on an empty buffer)
            raise read_error(self.path, f'frame {name} is empty (0 bytes)')
        try:
            return decode_jpeg(data)
        except BundleFormatError:
            raise read_error(
                self.path, f'frame {name} is not a decodable JPEG'
            ) from None

    def get_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        idx = self._check_indices(indices)
        rgb = {}
        for i in idx:
            if i not in rgb:  # a repeat: copied by _in_order
                rgb[i] = self._read(i)
        return self._in_order(idx, rgb)
