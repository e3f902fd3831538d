"""The datasets as downloaded, video decoding, sampling, transforms.

* :mod:`.ssv2`: :class:`~.ssv2.SSv2Dataset` reads the official JSON files
  and ``.webm`` videos.
* :mod:`.sthv1`: :class:`~.sthv1.SthV1Dataset` reads Something-Something
  V1's ``;`` CSVs and JPEG frame folders (TSM's sorted class order).
* :mod:`.kinetics`: :class:`~.kinetics.Kinetics400Dataset` reads the
  CVDF/ActivityNet CSVs (or mmaction2's list files) and ``.mp4`` videos,
  flat or in class folders, leaving out the missing ones.
* :mod:`.hmdb51`: :class:`~.hmdb51.HMDB51Dataset` reads the ``.avi`` class
  folders and the official three splits.
* :mod:`.video_list`: what the last two share: one scan of the video
  folder, the missing-video policy.
* :mod:`.frame_folder`: one frame folder (``<id>/00001.jpg ...``) as a
  reader.
* :mod:`.video_io`: decord / PyAV readers, the backend choice, and a
  prepared set's paths (``<id>.webm`` -> ``<id>.jpgbundle``);
  :func:`~.video_io.open_video` opens any of them (a low layer, no
  registry).
* :mod:`.frame_bundle`: the frame bundle ``tools/prepare_data.py`` writes
  (every frame a JPEG, one file per video) and its reader.
* :mod:`.frame_reader`: what every reader gives (``FrameReader``) and the
  one error an unreadable video raises (``VideoReadError``).
* :mod:`.transforms`: ``VideoInit`` -> ``SegmentSampleFrames`` ->
  ``VideoDecode``, TSN segment sampling as TSM trains and tests
  (https://arxiv.org/abs/1811.08383).
* :mod:`.multi_count_sampling`: FFN's training sampler, one video at
  several frame counts from one decode (https://arxiv.org/abs/2303.14817).
* :mod:`.test_protocols`: which views of a video are scored at test time,
  and how they average (TSM's, FFN's and mmaction2's protocols).
* :mod:`.crop_resize`: ``FusedCropResize``, mmaction2's resize/crop chain in
  one interpolation.
* :mod:`.bad_videos`: what a dataset does with a video it cannot use.

The package imports nothing itself, so :mod:`.video_io` stays importable
without mmaction2's models; :mod:`tsm_plugin.registration` imports the
modules that register.
"""
