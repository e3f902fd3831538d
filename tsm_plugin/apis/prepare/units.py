"""One item of a prepared set: a video or a frame folder made into one frame
bundle (:mod:`tsm_plugin.datasets.frame_bundle`), or a file copied.

* A video file (:data:`VIDEO_SUFFIXES`) is decoded once with PyAV, frame by
  frame (only the JPEGs are held, so a long or large video costs little
  memory), each frame encoded as a JPEG at the chosen quality; the bundle's
  frame count must equal the source's.
* A frame folder (every visible file a JPEG frame named ``00001.jpg``,
  ``img_00001.jpg`` or ``image_00001.jpg``, as Something-Something V1 and
  extracted rawframes are) is packed as its JPEG bytes, unchanged, in
  frame order; the numbers must run 1..N without a gap, each file must be a
  JPEG and the first and last frames must decode.

Every output is written atomically: a failed item leaves no file.
"""

import os
import os.path as osp
import re
from typing import Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from ...datasets import frame_bundle
from ...datasets.frame_bundle import BundleReader
from ...datasets.frame_reader import read_error
from ...datasets.video_io import VideoReadError, open_video
from ...utils.atomic import atomic_write

# The files decoded as videos (case-insensitive): the containers of SSv2
# (.webm), Kinetics (.mp4, some .mkv/.webm), HMDB51 and UCF101 (.avi), and
# the other common ones FFmpeg reads.
VIDEO_SUFFIXES = (
    '.webm',
    '.mp4',
    '.avi',
    '.mkv',
    '.mov',
    '.m4v',
    '.mpg',
    '.mpeg',
    '.flv',
    '.wmv',
    '.ogv',
    '.3gp',
)
# A frame of a frame folder: an optional prefix, the frame number, .jpg.
FRAME_NAME = re.compile(r'(img_|image_)?(\d+)\.jpe?g', re.IGNORECASE)
_JPEG_START = b'\xff\xd8'


class Unit(NamedTuple):
    """One bundle to write."""

    name: str  # how DST/failures.txt names it (a relative path)
    src: str  # the video file, or the frame folder
    dst: str  # the bundle
    frames: bool = False  # src is a frame folder
    problem: str = ''  # why it cannot be prepared, found when planned


class Outcome(NamedTuple):
    """What became of one unit, with the bytes it counts for."""

    name: str
    status: str  # 'converted', 'skipped' (already complete) or 'failed'
    reason: str = ''
    source_bytes: int = 0
    prepared_bytes: int = 0


def is_video(name: str) -> bool:
    """Whether a file name has a suffix of :data:`VIDEO_SUFFIXES`."""
    return osp.splitext(name)[1].lower() in VIDEO_SUFFIXES


def is_frame_folder(names: List[str]) -> bool:
    """Whether these visible file names are all frames (and some)."""
    return bool(names) and all(FRAME_NAME.fullmatch(n) for n in names)


def frame_order(names: List[str]) -> Tuple[List[str], str]:
    """A frame folder's file names in frame order, and what is wrong with
    them ('' if nothing): mixed prefixes, or numbers other than 1..N."""
    found = sorted(
        (int(m.group(2)), m.group(1) or '', name)
        for name, m in ((n, FRAME_NAME.fullmatch(n)) for n in names)
        if m
    )
    order = [name for _, _, name in found]
    if len(found) != len(names):
        return order, 'holds files that are not frames'
    prefixes = {}
    for _, prefix, name in found:
        prefixes.setdefault(prefix, name)
    if len(prefixes) > 1:
        return order, f'mixed frame names ({" and ".join(prefixes.values())})'
    numbers = [number for number, _, _ in found]
    n = len(numbers)
    if numbers != list(range(1, n + 1)):
        return order, (
            f'{n} frames numbered {numbers[0]}..{numbers[-1]}, expected '
            f'1..{n} without gaps or repeats'
        )
    return order, ''


def index_bytes(count: int) -> int:
    """A bundle's bytes besides its JPEGs: the 16-byte header and the
    ``count + 1`` offsets (frame_bundle's layout)."""
    return 16 + 8 * (count + 1)


def complete_frames(path: str) -> int:
    """The frame count of the complete bundle ``path``; 0 if it is missing,
    partial or not a bundle."""
    if not osp.isfile(path):
        return 0
    try:
        with BundleReader(path) as reader:
            return reader.num_frames
    except VideoReadError:
        return 0


def current_frames(unit: 'Unit') -> int:
    """The frame count of ``unit``'s output if it is complete and not older
    than its source (a video downloaded again is prepared again); else 0."""
    count = complete_frames(unit.dst)
    if count and os.stat(unit.src).st_mtime_ns > os.stat(unit.dst).st_mtime_ns:
        return 0
    return count


def is_complete(path: str) -> bool:
    """Whether ``path`` is a complete bundle (its index matches its size)."""
    return complete_frames(path) > 0


def decoded_frames(path: str) -> Iterator[np.ndarray]:
    """Every frame of a video as RGB uint8, decoded in order with PyAV.

    The packets decoded are those :class:`~tsm_plugin.datasets.video_io.
    PyAVReader` counts (non-empty, with a timestamp), so the frames are
    the ones the PyAV reader gives, one at a time.
    """
    import av

    decoded = 0
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1  # one worker process per core
            reformat = av.video.reformatter.VideoReformatter().reformat
            packets = (
                p
                for p in container.demux(stream)
                if p.size > 0 and p.pts is not None
            )
            for packet in (*packets, None):  # None drains the decoder
                for frame in stream.decode(packet):
                    yield reformat(frame, format='rgb24').to_ndarray()
                    decoded += 1
    except av.FFmpegError as err:
        raise read_error(
            path, f'decoding failed at frame {decoded} ({err})'
        ) from None


def _check_written(dst: str, count: int) -> Optional[str]:
    """None if the bundle ``dst`` holds ``count`` frames; else removes it
    and says why."""
    with BundleReader(dst) as out:
        written = out.num_frames
    if written == count:
        return None
    os.remove(dst)
    return (
        f'frame count mismatch: the source has {count} frames, the output '
        f'{written}'
    )


def convert_video(src: str, dst: str, quality: int) -> Optional[str]:
    """Write ``src``'s frames as the bundle ``dst``; None, or why not.

    The source is checked and its frames counted by the PyAV reader (the
    frames the dataset's readers give), then decoded once; the written file
    is reopened and its frame count checked against the source's. A failed
    video leaves no file at ``dst``.
    """
    try:
        with open_video(src, 'pyav') as reader:
            count = reader.num_frames
        data = frame_bundle.encode_frames(decoded_frames(src), quality)
        atomic_write(dst, data)
        return _check_written(dst, count)
    except (VideoReadError, ValueError, OSError) as err:
        return ' '.join(str(err).split())


def pack_frame_folder(src: str, dst: str) -> Optional[str]:
    """Write the frame folder ``src``'s JPEGs, unchanged and in frame order,
    as the bundle ``dst``; None, or why not (no file at ``dst`` then)."""
    try:
        names = sorted(n for n in os.listdir(src) if not n.startswith('.'))
        order, problem = frame_order(names)
        if problem or not order:
            return problem or 'no frames'
        blobs = []
        for name in order:
            with open(osp.join(src, name), 'rb') as f:
                blobs.append(f.read())
            if blobs[-1][:2] != _JPEG_START:
                return f'{name} is not a JPEG'
        for name, blob in ((order[0], blobs[0]), (order[-1], blobs[-1])):
            try:
                frame_bundle.decode_jpeg(blob)
            except frame_bundle.BundleFormatError:
                return f'{name} does not decode'
        atomic_write(dst, frame_bundle.pack(blobs))
        return _check_written(dst, len(blobs))
    except (VideoReadError, ValueError, OSError) as err:
        return ' '.join(str(err).split())


def measured(unit: Unit, status: str, count: int = 0) -> Outcome:
    """The outcome of a unit whose bundle is complete: the bytes of its
    source (a frame folder's JPEGs are the bundle less its index) and of
    the bundle."""
    size = osp.getsize(unit.dst)
    if unit.frames:
        count = count or complete_frames(unit.dst)
        source = size - index_bytes(count)
    else:
        source = osp.getsize(unit.src)
    return Outcome(unit.name, status, '', source, size)


def convert(job: Tuple[Unit, int]) -> Outcome:
    """Prepare one unit (a worker's job: the unit and the JPEG quality)."""
    unit, quality = job
    if unit.problem:
        reason = unit.problem
    elif unit.frames:
        reason = pack_frame_folder(unit.src, unit.dst)
    else:
        reason = convert_video(unit.src, unit.dst, quality)
    if reason:
        return Outcome(unit.name, 'failed', reason)
    return measured(unit, 'converted')


def copy_file(src: str, dst: str) -> bool:
    """Copy ``src`` to ``dst`` atomically, with its modification time;
    False (nothing done) where ``dst`` has its size and time already."""
    st = os.stat(src)
    try:
        have = os.stat(dst)
        if (have.st_size, have.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            return False
    except FileNotFoundError:
        pass
    with open(src, 'rb') as f:
        atomic_write(dst, f.read())
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    return True
