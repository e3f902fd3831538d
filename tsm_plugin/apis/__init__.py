"""Importable bodies of the command-line tools (the tools stay thin).

One module per tool in ``tools/``: :mod:`.train`, :mod:`.test`,
:mod:`.eval_tfd`, :mod:`.preflight` (a package: paths, data, training
rows), :mod:`.study` (a package: the study file, training the missing rows,
evaluating all, the tables), :mod:`.prepare_data` (with the package
:mod:`.prepare`; :mod:`.prepare_ssv2` is its SSv2 form),
:mod:`.convert_checkpoint`, :mod:`.make_synthetic`; :mod:`._cli` holds the
flags and the one-line error handling they share.
"""
