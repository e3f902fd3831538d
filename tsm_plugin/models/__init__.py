"""TSM: the pure temporal shift op (:mod:`.temporal_shift`, plain torch, no
registry) and the registered backbone (:mod:`.tsm_resnet`).

The package imports nothing itself, so the shift op stays importable without
mmaction2's models; :mod:`tsm_plugin.registration` imports the modules that
register.
"""
