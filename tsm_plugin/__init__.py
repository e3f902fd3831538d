"""TSM on Something-Something V2 as an MMAction2 plugin, with TFD evaluation.

Importing the package registers nothing (configs import
:mod:`tsm_plugin.registration`); it only applies the import fixes of the
pinned stack (:func:`tsm_plugin.compat.apply_import_fixes`: the mmaction2
wheel made importable, mmengine's package lookups made to work without
``pkg_resources``), so any of our modules can be imported on its own and
``mmaction::`` configs load.

Layers, imports pointing down only (``tests/test_layers.py``)::

    apis            CLI bodies: parse, build the config, hand it to the Runner
    registration    what configs import: fixes the stack, registers everything
    evaluation      the TFD sweep, its reports, FLOPs, TFDEvalHook
    engine, testing loops, hooks, optim wrapper, checkpoints; synthetic data
    datasets, models
    (this package)  applies compat's import fixes
    utils, compat   config helpers, device, workers; fixes of the stack
    errors          InputError and the exit statuses
"""

from . import compat

compat.apply_import_fixes()

__version__ = '0.1.0'
