"""TSM on Something-Something V2 as an MMAction2 plugin.

Importing this package (configs do it through ``custom_imports``) fixes the
published stack (:mod:`tsm_plugin.compat`) and registers our modules in
mmaction2's registries.
"""
from . import compat

compat.apply()

from . import datasets, engine, models  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
