"""Inputs for tests, demos and benchmarks (as ``mmaction.testing``).
Nothing in training imports it.

* :mod:`.synthetic_ssv2`: a synthetic SSv2-format set of real VP9 ``.webm``
  videos and the four SSv2 JSON files, whose eight classes differ only in
  time (``tools/make_synthetic_ssv2.py``); :mod:`.synthetic_ssv2.make`
  writes it, from :mod:`~.synthetic_ssv2.motions`,
  :mod:`~.synthetic_ssv2.render` and :mod:`~.synthetic_ssv2.encode`.
* :mod:`.synthetic_sthv1` and :mod:`.synthetic_videos`: the same classes in
  the layouts of Something-Something V1 (JPEG frame folders), Kinetics-400
  (``.mp4``, with missing and broken files) and HMDB51 (``.avi`` and the
  three splits); ``tools/make_synthetic.py LAYOUT`` writes any of them.
* :mod:`.demo_inputs`: fake training batches (``fake_batch``), the same
  for every model a benchmark compares.
"""
