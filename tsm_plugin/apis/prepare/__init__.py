"""A set as downloaded turned into frame bundles, the decode-light format.

A 16-frame clip of a compressed video costs decoding most of the video (SSv2's
``.webm`` carry one keyframe each; Kinetics' ``.mp4`` a keyframe every few
seconds), so on CPUs decoding is most of the training pipeline's time and a
GPU waits. A frame bundle (:mod:`tsm_plugin.datasets.frame_bundle`) holds
every frame of a video as a JPEG behind an offset index, in one file, so a
clip costs 16 JPEG decodes. Frame folders (Something-Something V1's
``<id>/00001.jpg ...``) are packed as their JPEG bytes, unchanged: one file
per video instead of one per frame.

Modules: :mod:`.units` (one video, frame folder or file), :mod:`.engine`
(a plan run in parallel: markers, resume, failures, summary), :mod:`.tree`
(the plan mirroring a source tree, ``tools/prepare_data.py``), :mod:`.cli`
(the flags both prepare tools share). ``tools/prepare_ssv2.py`` plans the
SSv2 layout alone (:mod:`tsm_plugin.apis.prepare_ssv2`).
"""

from .engine import (
    DEFAULT_FORMAT,
    FAILURES,
    FORMATS,
    Plan,
    check_args,
    resolve_format,
    run,
    summary_line,
)
from .tree import scan
from .units import (
    VIDEO_SUFFIXES,
    Outcome,
    Unit,
    convert_video,
    is_complete,
    pack_frame_folder,
)

__all__ = [
    'DEFAULT_FORMAT',
    'FAILURES',
    'FORMATS',
    'VIDEO_SUFFIXES',
    'Outcome',
    'Plan',
    'Unit',
    'check_args',
    'convert_video',
    'is_complete',
    'pack_frame_folder',
    'resolve_format',
    'run',
    'scan',
    'summary_line',
]
