"""Serve ``importlib_metadata`` from the standard library where it is missing.

``mmaction/utils/dependency.py`` (mmaction2 1.2.0) imports the
``importlib_metadata`` backport without declaring it in its requirements;
Python >= 3.8 has the same API as ``importlib.metadata``
(https://github.com/open-mmlab/mmaction2/blob/v1.2.0/mmaction/utils/dependency.py).
``requirements.txt`` also lists the backport.
"""

import importlib.metadata
import sys


def apply() -> bool:
    """Alias the backport to the standard library if it cannot be imported.

    Returns:
        bool: whether the alias was installed.
    """
    try:
        import importlib_metadata  # noqa: F401

        return False
    except ImportError:
        sys.modules['importlib_metadata'] = importlib.metadata
        return True
