"""SSv2 as downloaded: the dataset, video decoding, sampling, transforms.

* :mod:`.ssv2`: :class:`~.ssv2.SSv2Dataset` reads the official JSON files
  and ``.webm`` videos.
* :mod:`.video_io`: decord / PyAV readers (a low layer, no registry).
* :mod:`.transforms`: ``VideoInit`` -> ``SegmentSampleFrames`` ->
  ``VideoDecode``, TSN segment sampling as TSM trains and tests
  (https://arxiv.org/abs/1811.08383).
* :mod:`.crop_resize`: ``FusedCropResize``, mmaction2's resize/crop chain in
  one interpolation.
* :mod:`.bad_videos`: what a dataset does with a video it cannot use.

The package imports nothing itself, so :mod:`.video_io` stays importable
without mmaction2's models; :mod:`tsm_plugin.registration` imports the
modules that register.
"""
