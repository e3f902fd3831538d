"""TSM on Something-Something V2 as an MMAction2 plugin, with TFD evaluation.

Importing the package registers nothing (configs import
:mod:`tsm_plugin.registration`); it only makes the pinned mmaction2 wheel
importable (:func:`tsm_plugin.compat.apply_import_fixes`, which touches
``sys.modules`` alone), so any of our modules can be imported on its own.

Layers, imports pointing down only (``tests/test_layers.py``)::

    apis (CLI bodies)
    evaluation
    engine
    datasets, models
    utils, compat, errors
"""

from . import compat

compat.apply_import_fixes()

__version__ = '0.1.0'
