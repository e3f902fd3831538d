"""Frame bundles: every frame of one video JPEG-encoded, in ONE file.

SSv2's ``.webm`` files carry a single keyframe, so sampling 16 frames of a
~48-frame video decodes nearly all of them. A bundle stores each frame as
its own JPEG plus an offset index, so a clip costs exactly one JPEG decode
per sampled frame (libjpeg-turbo through OpenCV), about 8x faster than
VP9 at SSv2's size, at about 8x the storage (``tools/prepare_data.py``
writes them; the measurements are in ``docs/data.md``). One file per
video, never one per frame: SSv2's 25 M frames as files would swamp a
cluster filesystem.

Layout (little-endian)::

    b'TSMJPGB1'                  magic and version, 8 bytes
    uint32 count, uint32 0       frames, reserved
    uint64 offsets[count + 1]    where each JPEG starts; the last one is
                                 the file size
    JPEG 0, JPEG 1, ...          baseline JPEG, 4:2:0

A file whose last offset is not its size is truncated or corrupt and fails
to open: a complete bundle is recognised from its first 16 + 8 (count + 1)
bytes (:func:`read_index`).

:class:`BundleReader` reads a bundle's frames by index, with the interface
of every reader (:class:`~.frame_reader.FrameReader`). This is a low layer:
numpy and OpenCV only.
"""

import functools
import os
import struct
from typing import Iterable, List, Sequence

import numpy as np

from .frame_reader import FrameReader, check_file, read_error

SUFFIX = '.jpgbundle'
MAGIC = b'TSMJPGB1'
_HEAD = struct.Struct('<8sII')
DEFAULT_QUALITY = 90


class BundleFormatError(ValueError):
    """Bytes that are not a complete frame bundle; the message says why."""


def _cv2():
    import cv2

    return cv2


def encode_jpeg(rgb: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    """One ``(H, W, 3)`` RGB uint8 frame as a baseline 4:2:0 JPEG."""
    cv2 = _cv2()
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(
        '.jpg',
        bgr,
        [
            cv2.IMWRITE_JPEG_QUALITY,
            int(quality),
            # 4:2:0, as the VP9 source: full chroma would store detail the
            # source never had.
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        ],
    )
    if not ok:
        raise ValueError(f'JPEG encoding failed for a {rgb.shape} frame')
    return buf.tobytes()


def decode_jpeg(data) -> np.ndarray:
    """A JPEG as an ``(H, W, 3)`` RGB uint8 array.

    Raises:
        BundleFormatError: the bytes are not a decodable JPEG.
    """
    cv2 = _cv2()
    buf = np.frombuffer(data, np.uint8)
    rgb_flag = getattr(cv2, 'IMREAD_COLOR_RGB', None)  # OpenCV >= 4.10
    img = cv2.imdecode(buf, rgb_flag if rgb_flag is not None else 1)
    if img is None:
        raise BundleFormatError('a frame is not a decodable JPEG')
    if rgb_flag is None:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img


def pack(jpegs: Iterable[bytes]) -> bytes:
    """The bundle of these JPEGs, in order (see the module's layout)."""
    blobs = [bytes(b) for b in jpegs]
    n = len(blobs)
    start = _HEAD.size + 8 * (n + 1)
    offsets = np.cumsum([start] + [len(b) for b in blobs], dtype='<u8')
    return b''.join([_HEAD.pack(MAGIC, n, 0), offsets.tobytes(), *blobs])


def encode_frames(
    frames: Iterable[np.ndarray], quality: int = DEFAULT_QUALITY
) -> bytes:
    """RGB uint8 frames as one bundle, each a JPEG at ``quality``."""
    return pack(encode_jpeg(f, quality) for f in frames)


def read_index(read_at, size: int) -> np.ndarray:
    """The ``count + 1`` offsets of a bundle of ``size`` bytes.

    Args:
        read_at (callable): ``read_at(nbytes, offset) -> bytes`` (e.g.
            ``functools.partial(os.pread, fd)``).
        size (int): The file's size in bytes.

    Raises:
        BundleFormatError: a wrong magic, a short file, offsets that do not
            grow, or a last offset other than ``size`` (truncated).
    """
    head = read_at(_HEAD.size, 0)
    if len(head) < _HEAD.size or head[:8] != MAGIC:
        raise BundleFormatError(
            'not a frame bundle (no TSMJPGB1 header)'
            if len(head) >= 8
            else f'not a frame bundle ({size} bytes)'
        )
    _, count, _ = _HEAD.unpack(head)
    if count == 0:
        raise BundleFormatError('no frames')
    table = read_at(8 * (count + 1), _HEAD.size)
    if len(table) < 8 * (count + 1):
        raise BundleFormatError(
            f'truncated: {size} bytes cannot hold the index of {count} frames'
        )
    offsets = np.frombuffer(table, '<u8').astype(np.int64)
    if offsets[0] != _HEAD.size + 8 * (count + 1) or np.any(
        np.diff(offsets) <= 0
    ):
        raise BundleFormatError('corrupt frame index')
    if offsets[-1] != size:
        raise BundleFormatError(
            f'truncated: {size} of the {int(offsets[-1])} bytes the index '
            f'gives ({count} frames)'
        )
    return offsets


def unpack(data: bytes) -> List[bytes]:
    """The JPEGs of a bundle held in memory (tests, inspection)."""
    view = memoryview(data)
    offsets = read_index(lambda n, at: bytes(view[at : at + n]), len(data))
    return [bytes(view[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]


class BundleReader(FrameReader):
    """Reads a frame bundle: one JPEG decode per requested frame.

    Opening reads the index only (and checks that the file is complete);
    :meth:`get_frames` reads and decodes just the requested frames.

    Args:
        path (str): The ``.jpgbundle`` file.

    Raises:
        VideoReadError: a missing, empty, truncated or foreign file (and,
            from :meth:`get_frames`, a frame that does not decode).
    """

    def __init__(self, path: str):
        self.path = path
        self._fd = None
        check_file(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as err:
            raise read_error(path, err.strerror or err) from None
        try:
            size = os.fstat(fd).st_size
            self._offsets = read_index(functools.partial(os.pread, fd), size)
        except (BundleFormatError, OSError) as err:
            os.close(fd)
            reason = getattr(err, 'strerror', None) or err
            raise read_error(path, reason) from None
        self._fd = fd
        self.num_frames = len(self._offsets) - 1

    def get_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        idx = self._check_indices(indices)
        if self._fd is None:
            raise ValueError(f'{self.path}: reader is closed')
        rgb = {}
        for i in idx:
            if i in rgb:  # a repeat: copied by _in_order
                continue
            start, stop = int(self._offsets[i]), int(self._offsets[i + 1])
            try:
                data = os.pread(self._fd, stop - start, start)
                if len(data) != stop - start:
                    raise BundleFormatError('file shrank')
                rgb[i] = decode_jpeg(data)
            except (BundleFormatError, OSError) as err:
                raise read_error(
                    self.path,
                    f'frame {i}: {getattr(err, "strerror", None) or err}',
                ) from None
        return self._in_order(idx, rgb)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()
