"""Video decoding for SSv2's VP9 ``.webm`` files (decord or PyAV), for
SSv1's frame folders, and for the frame bundles ``tools/prepare_data.py``
writes.

A reader is opened once per video and gives the frame count and any frames
by index, as RGB ``uint8`` arrays::

    with open_video('123.webm') as reader:
        frames = reader.get_frames([0, 5, 9])  # 3 x (H, W, 3) uint8, RGB

``backend='auto'`` takes decord where it is installed (it has no macOS or
Linux aarch64 wheels) and PyAV otherwise; both decode with FFmpeg's VP9
decoder and give the same pixels. The choice is logged once per process.

WebM headers usually carry no frame count (PyAV's ``stream.frames`` is 0),
so the PyAV reader counts the video packets (demuxing only, no decoding).
PyAV must decode sequentially, so :meth:`PyAVReader.get_frames` decodes up
to the last requested frame once and converts only the requested frames to
RGB.

A set prepared by ``tools/prepare_data.py`` is read through the same
annotation files: its video folder holds ``prepared.json`` (the format) and
``<id>.jpgbundle`` files, and :func:`open_video` opens ``<id>.jpgbundle``
(a :class:`~.frame_bundle.BundleReader`) when asked for an ``<id>.webm``
that is not there, so ``data_root`` is all a user changes. The backend does
not apply to bundles (one JPEG decode per requested frame).

A folder (SSv1's ``<id>/00001.jpg ...``) opens as a
:class:`~.frame_folder.FrameFolderReader`, whatever the backend. A folder
that is not there is looked up as above first: in a prepared set,
``<id>`` is ``<id>.jpgbundle``.

Every fault a user can cause (a missing, empty, truncated or non-video file,
a video without frames) raises :class:`VideoReadError`, whose message is one
line naming the file and the reason. It and the readers' shared interface
(:class:`~.frame_reader.FrameReader`) live in :mod:`.frame_reader`.

This is a low layer: it imports nothing from the registry or the tools.
"""

import functools
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from ..errors import ConfigValueError, InputError
from . import frame_bundle
from .frame_bundle import BundleReader
from .frame_folder import FrameFolderReader
from .frame_reader import FrameReader, VideoReadError, check_file, read_error

BACKENDS = ('decord', 'pyav')
# In a prepared set's video folder: which format its videos were turned into.
PREPARED_MARKER = 'prepared.json'
_logged = set()

__all__ = [
    'BACKENDS',
    'PREPARED_MARKER',
    'BundleReader',
    'DecordReader',
    'FrameReader',
    'PyAVReader',
    'VideoReadError',
    'decord_available',
    'open_video',
    'prepared_suffix',
    'resolve_backend',
    'resolve_path',
]


def decord_available() -> bool:
    """Whether decord can be imported (no wheels on macOS / aarch64)."""
    try:
        import decord  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str = 'auto') -> str:
    """The backend ``backend`` names: 'auto' -> decord if installed, else pyav.

    What 'auto' chose is logged once per process (an explicit name is not
    a choice and is not logged). Resolve once where the pipeline is built
    (as ``VideoInit`` does) so that dataloader workers do not log again.

    Raises:
        ConfigValueError: an unknown name, or 'decord' where it is not
            installed.
    """
    if backend == 'auto':
        name = 'decord' if decord_available() else 'pyav'
    elif backend in BACKENDS:
        name = backend
        if name == 'decord' and not decord_available():
            raise ConfigValueError(
                "video backend 'decord' is not installed "
                "(pip install decord, or use backend='pyav')"
            )
    else:
        raise ConfigValueError(
            f'unknown video backend {backend!r}; use one of '
            f"'auto', {', '.join(map(repr, BACKENDS))}"
        )
    if backend == 'auto' and name not in _logged:
        _logged.add(name)
        print_log(
            f"video decoding backend: {name} ('auto': decord if "
            'installed, else pyav)',
            logger='current',
        )
    return name


def _check_complete(path: str, end: float, duration: float, frames: int):
    """Raise if the stream ends well before the duration the header gives.

    A download cut short still demuxes and decodes up to the cut; only the
    header's duration (written when the file was complete) tells.
    """
    if duration > 0 and end < duration - max(0.25, 0.05 * duration):
        raise read_error(
            path,
            f'truncated: the frames end at {end:.2f} s of the '
            f'{duration:.2f} s the header gives ({frames} frames)',
        )


def _header_duration(path: str) -> float:
    """The container duration in seconds from the header (0 if unknown)."""
    try:
        import av
    except ImportError:
        return 0.0
    try:
        with av.open(path) as container:
            return (container.duration or 0) / 1e6
    except av.FFmpegError as err:
        raise read_error(path, f'not a readable video ({err})') from None


class PyAVReader(FrameReader):
    """Reads a video with PyAV: frames counted by demuxing, decoded in order.

    Opening demuxes the whole file once (no decoding) and keeps the
    compressed packets; :meth:`get_frames` decodes them in order up to the
    last requested frame, converting only the requested ones to RGB.

    Args:
        path (str): The video file.
        num_threads (int): Decoder threads (0: FFmpeg decides). One per
            dataloader worker is the right default.
    """

    def __init__(self, path: str, num_threads: int = 1):
        import av

        self._av = av
        self.path = path
        self._container = None
        check_file(path)
        try:
            container = av.open(path)
        except av.FFmpegError as err:
            raise read_error(path, f'not a readable video ({err})') from None
        try:
            if not container.streams.video:
                raise read_error(path, 'no video stream')
            stream = container.streams.video[0]
            stream.thread_count = num_threads
            packets = [
                p
                for p in container.demux(stream)
                if p.size > 0 and p.pts is not None
            ]
            end = max((p.pts + (p.duration or 0) for p in packets), default=0)
            end = float(end * stream.time_base)
            duration = (container.duration or 0) / 1e6
        except av.FFmpegError as err:
            container.close()
            raise read_error(path, f'not a readable video ({err})') from None
        except VideoReadError:
            container.close()
            raise
        if not packets:
            container.close()
            raise read_error(path, 'no frames')
        try:
            _check_complete(path, end, duration, len(packets))
        except VideoReadError:
            container.close()
            raise
        self._container, self._stream = container, stream
        self._packets = packets
        self._decoded_once = False
        self.num_frames = len(packets)

    def get_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        idx = self._check_indices(indices)
        if not idx:
            return []
        if self._container is None:
            raise ValueError(f'{self.path}: reader is closed')
        wanted, last = set(idx), max(idx)
        rgb = {}
        decoded = 0
        stream = self._stream
        # One swscale context for all frames: to_ndarray(format='rgb24')
        # builds a new one per frame, which costs as much as decoding it.
        reformatter = self._av.video.reformatter.VideoReformatter()
        try:
            if self._decoded_once:  # a second call: restart the decoder
                stream.codec_context.flush_buffers()
            self._decoded_once = True
            for packet in self._packets + [None]:  # None drains the decoder
                for frame in stream.decode(packet):
                    if decoded in wanted:
                        rgb[decoded] = reformatter.reformat(
                            frame, format='rgb24'
                        ).to_ndarray()
                    decoded += 1
                if decoded > last:
                    break
        except self._av.FFmpegError as err:
            raise read_error(
                self.path, f'decoding failed at frame {decoded} ({err})'
            ) from None
        if decoded <= last:
            raise read_error(
                self.path,
                f'corrupt: decoded {decoded} of {self.num_frames} frames',
            )
        return self._in_order(idx, rgb)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = self._stream = self._packets = None


class DecordReader(FrameReader):
    """Reads a video with decord (random access through seeking).

    Args:
        path (str): The video file.
        num_threads (int): Decoder threads (0: decord decides).
    """

    def __init__(self, path: str, num_threads: int = 1):
        import decord

        self._decord = decord
        self.path = path
        check_file(path)
        try:
            self._vr = decord.VideoReader(path, num_threads=num_threads)
        except (decord.DECORDError, RuntimeError) as err:
            raise read_error(path, f'not a readable video ({err})') from None
        self.num_frames = len(self._vr)
        if self.num_frames == 0:
            raise read_error(path, 'no frames')
        # decord exposes no container duration: PyAV reads it from the
        # header (~2.5 ms at 240p), the one sign of a download cut short.
        end = float(self._vr.get_frame_timestamp(self.num_frames - 1)[1])
        _check_complete(path, end, _header_duration(path), self.num_frames)

    def get_frames(self, indices: Sequence[int]) -> List[np.ndarray]:
        idx = self._check_indices(indices)
        if not idx:
            return []
        try:
            batch = self._vr.get_batch(idx).asnumpy()
        except (self._decord.DECORDError, RuntimeError) as err:
            raise read_error(self.path, f'decoding failed ({err})') from None
        return list(batch)

    def close(self) -> None:
        self._vr = None


@functools.lru_cache(maxsize=256)
def prepared_suffix(folder: str) -> Optional[str]:
    """The file suffix of a prepared set's video folder (None: not one).

    Read from ``<folder>/prepared.json`` once per folder and process.
    """
    marker = osp.join(folder, PREPARED_MARKER)
    try:
        with open(marker, encoding='utf-8') as f:
            info = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise InputError(f'{marker}: unreadable ({err})') from None
    suffix = info.get('suffix') if isinstance(info, dict) else None
    if suffix != frame_bundle.SUFFIX:
        raise InputError(
            f'{marker}: unknown prepared format {info!r} (this version '
            f'reads {frame_bundle.SUFFIX} bundles)'
        )
    return suffix


def resolve_path(path: str) -> str:
    """``path``, or its prepared counterpart when it is not there.

    In a prepared set's video folder (one with ``prepared.json``) a missing
    ``<id>.webm`` is ``<id>.jpgbundle``: the annotation files and the
    dataset's ``.webm`` suffix stay as they are.
    """
    if osp.exists(path):
        return path
    suffix = prepared_suffix(osp.dirname(osp.abspath(path)))
    if suffix is None:
        return path
    return osp.splitext(path)[0] + suffix


def open_video(
    path: str, backend: str = 'auto', num_threads: int = 1
) -> FrameReader:
    """Open ``path`` for reading frames by index.

    A ``.jpgbundle`` file, or a ``.webm`` (or SSv1 frame folder) named in
    a prepared set (see :func:`resolve_path`), opens as a
    :class:`BundleReader`, and a folder of frames as a
    :class:`~.frame_folder.FrameFolderReader`, whatever the backend.

    Args:
        path (str): The video file (or frame folder).
        backend (str): 'auto' (decord if installed, else PyAV), 'decord' or
            'pyav'.
        num_threads (int): Decoder threads per reader.

    Returns:
        A reader with ``num_frames`` and ``get_frames(indices)`` returning a
        list of (H, W, 3) RGB uint8 arrays, one per index.

    Raises:
        VideoReadError: a missing, empty, unreadable or frameless video.
    """
    path = resolve_path(path)
    if osp.isdir(path):
        return FrameFolderReader(path)
    if path.endswith(frame_bundle.SUFFIX):
        return BundleReader(path)
    name = resolve_backend(backend)
    cls = DecordReader if name == 'decord' else PyAVReader
    return cls(path, num_threads=num_threads)
