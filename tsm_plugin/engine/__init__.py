"""The training machinery the configs name: loop, sampler, optim wrapper,
data preprocessor, hooks; and the one module that writes and reads
checkpoints (:mod:`.checkpoint`).

The package imports nothing itself (a CLI that needs only the checkpoint
module does not pay for mmaction2's models); :mod:`tsm_plugin.registration`
imports the modules that register.
"""
