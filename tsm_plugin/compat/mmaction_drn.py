"""Stub ``mmaction.models.localizers.drn``, missing from the 1.2.0 wheel.

``mmaction/models/localizers/__init__.py`` imports ``.drn.drn.DRN`` but the
wheel ships no ``drn`` folder, so ``import mmaction.models`` fails
(https://github.com/open-mmlab/mmaction2/issues/2714). The stub's ``DRN``
raises a clear error if anyone builds it.
"""

import importlib.util
import os.path as osp
import sys
import types

MODULE = 'mmaction.models.localizers.drn'


class DRN:
    """Placeholder for the localizer missing from the mmaction2 wheel."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'mmaction2 1.2.0 ships without mmaction/models/localizers/drn '
            '(open-mmlab/mmaction2#2714); install mmaction2 from source '
            'to use DRN.'
        )


def apply() -> bool:
    """Install the stub where the wheel lacks the folder.

    Returns:
        bool: whether the stub was installed.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    pkg_dir = list(spec.submodule_search_locations)[0]
    if osp.exists(osp.join(pkg_dir, 'models', 'localizers', 'drn', 'drn.py')):
        return False
    if MODULE in sys.modules:
        return False
    pkg = types.ModuleType(MODULE)
    pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    mod = types.ModuleType(MODULE + '.drn')
    mod.DRN = DRN
    pkg.drn = mod
    sys.modules[MODULE] = pkg
    sys.modules[MODULE + '.drn'] = mod
    return True
