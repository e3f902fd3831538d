"""VP9 ``.webm`` encoding that gives the same bytes for the same frames."""

import io
from typing import Iterable

import numpy as np

from ...utils.atomic import atomic_write


def write_webm(
    path: str, frames: Iterable[np.ndarray], fps: int, width: int, height: int
) -> int:
    """Encode RGB uint8 frames as VP9 ``.webm`` (fast, deterministic).

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

    Returns:
        int: the number of frames written.
    """
    import av
    from av.codec.context import Flags

    buf = io.BytesIO()
    count = 0
    with av.open(
        buf, 'w', format='webm', container_options={'fflags': '+bitexact'}
    ) as out:
        # realtime, one thread, no look-ahead: fast and reproducible
        stream = out.add_stream(
            'libvpx-vp9',
            rate=fps,
            options={
                'deadline': 'realtime',
                'cpu-used': '8',
                'threads': '1',
                'row-mt': '0',
                'lag-in-frames': '0',
            },
        )
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
