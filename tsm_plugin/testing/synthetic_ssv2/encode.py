"""Video encoding that gives the same bytes for the same frames.

:func:`write_webm` writes SSv2's container and codec (VP9 ``.webm``);
:func:`write_video` the others the paper's datasets ship: H.264 ``.mp4``
(Kinetics-400 as downloaded from YouTube) and MPEG-4 Part 2 ``.avi``
(HMDB51's DivX/XviD files).
"""

import io
from typing import Iterable

import numpy as np

from ...utils.atomic import atomic_write

# container -> (PyAV format, encoder, encoder options): single-threaded and
# without look-ahead, so the same frames give the same bytes.
CODECS = {
    'webm': (
        'webm',
        'libvpx-vp9',
        {
            'deadline': 'realtime',
            'cpu-used': '8',
            'threads': '1',
            'row-mt': '0',
            'lag-in-frames': '0',
        },
    ),
    'mp4': (
        'mp4',
        'libx264',
        {'preset': 'ultrafast', 'threads': '1', 'bf': '0'},
    ),
    'avi': ('avi', 'mpeg4', {'threads': '1', 'bf': '0'}),
}


def write_video(
    path: str,
    frames: Iterable[np.ndarray],
    fps: int,
    width: int,
    height: int,
    container: str = 'webm',
) -> int:
    """Encode RGB uint8 frames into ``container`` (see :data:`CODECS`).

    The encoder runs single-threaded and both the codec and the muxer are
    bit-exact, so the same frames give the same file. The file appears under
    ``path`` only once complete
    (:func:`~tsm_plugin.utils.atomic.atomic_write`).

    Args:
        path (str): Output file.
        frames (Iterable[np.ndarray]): ``(height, width, 3)`` uint8 RGB.
        fps (int): Frame rate.
        width (int): Frame width (even).
        height (int): Frame height (even).
        container (str): 'webm' (VP9), 'mp4' (H.264) or 'avi' (MPEG-4).

    Returns:
        int: the number of frames written.
    """
    import av
    from av.codec.context import Flags

    fmt, codec, options = CODECS[container]
    buf = io.BytesIO()
    count = 0
    with av.open(
        buf, 'w', format=fmt, container_options={'fflags': '+bitexact'}
    ) as out:
        stream = out.add_stream(codec, rate=fps, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        stream.thread_count = 1
        stream.codec_context.flags |= Flags.bitexact
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode())
    atomic_write(path, buf.getvalue())
    return count


def write_webm(
    path: str, frames: Iterable[np.ndarray], fps: int, width: int, height: int
) -> int:
    """Encode RGB uint8 frames as VP9 ``.webm`` (:func:`write_video`)."""
    return write_video(path, frames, fps, width, height, 'webm')
