"""A synthetic Something-Something V2 set, written in the official layout.

Real VP9 ``.webm`` videos and the four SSv2 JSON files, so everything that
reads SSv2 (:class:`~tsm_plugin.datasets.ssv2.SSv2Dataset`, the decoders,
the tools) runs unchanged on it::

    OUT/20bn-something-something-v2/<id>.webm
    OUT/labels/labels.json        {"Moving something down": "1", ...}
    OUT/labels/train.json         [{"id", "label", "template", "placeholders"}]
    OUT/labels/validation.json    same fields
    OUT/labels/test.json          [{"id"}]

The eight classes are real SSv2 templates whose meaning lies in time, so a
single frame cannot tell them apart:

* two direction pairs (pushing left to right / right to left, moving up /
  down): a held object (a skin-coloured "hand" on top of it, the same in
  all four classes) moves one way or the other;
* two speed pairs that carry Temporal Frequency Deviation (FFN,
  https://arxiv.org/abs/2303.14817), as SSv2's speed classes do: "falling
  like a rock" versus "falling like a feather or paper" (top to bottom), and
  "Throwing" versus "Letting ... roll along a flat surface" (either way
  across, turning as it goes). Each is a stream: the object crosses the frame
  at a constant speed the whole clip, and the next comes in as it leaves.
  The fast class moves about 4x as far per frame as the slow one, and
  nothing else differs: nothing stops, and positions are uniform. A TSM
  trained at 16 frames that is shown 4 (4x the motion between sampled
  frames) sees the slow class move like the fast one.

Motions are defined in seconds, so the frame rate sets the motion per frame.
Shape, colour, size, position, timing and background are drawn per video
from a generator seeded by ``(seed, video index)``: the same seed gives the
same JSON and the same decoded frames (the encoder runs single-threaded and
the muxer bit-exact, so the files are byte-identical too).

Modules: :mod:`.motions` (the tracks), :mod:`.render` (the frames),
:mod:`.encode` (``.webm``, ``.mp4``, ``.avi``), :mod:`.make` (the set on disk).
"""

from .encode import write_video, write_webm
from .make import (
    LABEL_DIR,
    VIDEO_DIR,
    VideoJob,
    fill_template,
    make_synthetic_ssv2,
)
from .motions import TEMPLATES, Motion, Track, track

__all__ = [
    'LABEL_DIR',
    'TEMPLATES',
    'VIDEO_DIR',
    'Motion',
    'Track',
    'VideoJob',
    'fill_template',
    'make_synthetic_ssv2',
    'track',
    'write_video',
    'write_webm',
]
