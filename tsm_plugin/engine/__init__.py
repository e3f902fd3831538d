"""The training machinery the configs name: loop (:mod:`.loops`), sampler
(:mod:`.samplers`), optim wrapper (:mod:`.optim_wrapper`), data
preprocessor and its batch blendings of two frame counts
(:mod:`.count_blending`, FFN's Mixed and Proportional Sampling), hooks
(:mod:`.hooks`); precision by hardware (:mod:`.precision`), checks of a
distributed run (:mod:`.distributed`), and the one module that writes and
reads checkpoints (:mod:`.checkpoint`).

The package imports nothing itself (a CLI that needs only the checkpoint
module does not pay for mmaction2's models); :mod:`tsm_plugin.registration`
imports the modules that register.
"""
