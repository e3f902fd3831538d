"""SSv2 as downloaded: the dataset, video decoding, sampling, a generator.

* :class:`SSv2Dataset` reads the official JSON files and ``.webm`` videos.
* :mod:`.video_io`: decord / PyAV readers (a low layer, no registry).
* :mod:`.transforms`: ``VideoInit`` -> ``SegmentSampleFrames`` ->
  ``VideoDecode``, TSN segment sampling as TSM trains and tests
  (https://arxiv.org/abs/1811.08383).
* :mod:`.synthetic`: a synthetic SSv2-format set of temporal classes
  (``tools/make_synthetic_ssv2.py``).
"""
from .ssv2 import AnnotationError, SSv2Dataset, load_labels
from .synthetic import make_synthetic_ssv2
from .transforms import (SegmentSampleFrames, VideoDecode, VideoInit,
                         segment_indices)
from .video_io import VideoReadError, open_video, resolve_backend

__all__ = [
    'AnnotationError', 'SSv2Dataset', 'load_labels', 'make_synthetic_ssv2',
    'SegmentSampleFrames', 'VideoDecode', 'VideoInit', 'segment_indices',
    'VideoReadError', 'open_video', 'resolve_backend'
]
from . import fast_transforms  # noqa: F401,E402  (registration)
