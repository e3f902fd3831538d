"""Find installed packages without ``pkg_resources``: ``mmaction::`` configs.

mmengine 0.10.7's ``is_installed``, ``get_installed_path`` and
``package2module``
(https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/utils/package_utils.py)
import ``pkg_resources``, which setuptools no longer ships (removed in
setuptools 82, https://github.com/open-mmlab/mmcv/issues/3325). Every
lookup of an installed OpenMMLab package then fails with ``No module named
'pkg_resources'``: a config inheriting mmaction2's
(``_base_ = ['mmaction::recognition/tsm/...']``, the documented way) and
``mmengine.hub.get_config('mmaction::...')`` cannot load. mmengine replaced
the lookups with ``importlib`` upstream
(https://github.com/open-mmlab/mmengine/pull/1676, after 0.10.7); these are
the same lookups, through :mod:`importlib.metadata` and
:func:`importlib.util.find_spec`, installed only where ``pkg_resources`` is
missing.
"""

import importlib.metadata
import importlib.util
import os.path as osp
import sys

#: Where mmengine 0.10.7 holds (or has imported) the three lookups.
MODULES = (
    'mmengine.utils.package_utils',
    'mmengine.utils',
    'mmengine.config.config',
    'mmengine.hub.hub',
)
NAMES = ('is_installed', 'get_installed_path', 'package2module')


def _distribution(package: str):
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_installed(package: str) -> bool:
    """Whether ``package`` is installed, or importable from ``sys.path``."""
    if _distribution(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The module a distribution installs (``mmaction2`` -> ``mmaction``),
    from its ``top_level.txt``."""
    dist = _distribution(package)
    if dist is None:
        raise importlib.metadata.PackageNotFoundError(package)
    top_level = (dist.read_text('top_level.txt') or '').split()
    if not top_level:
        raise ValueError(f'can not infer the module name of {package}')
    return top_level[0]


def get_installed_path(package: str) -> str:
    """The folder of an installed package (``mmaction2`` or ``mmaction``)."""
    dist = _distribution(package)
    if dist is None:  # not installed: importable from sys.path, maybe
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise importlib.metadata.PackageNotFoundError(package)
        if spec.origin is None:
            raise RuntimeError(
                f'{package} is a namespace package, which is invalid '
                'for `get_install_path`'
            )
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))  # the site-packages folder
    if osp.exists(osp.join(location, package)):
        return osp.join(location, package)
    module = package2module(package)
    path = osp.join(location, module)
    if not osp.exists(path):  # an editable install: where it imports from
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            return osp.dirname(spec.origin)
    return path


def apply() -> bool:
    """Replace mmengine's lookups where ``pkg_resources`` is missing.

    Returns:
        bool: whether the lookups were replaced.
    """
    if importlib.util.find_spec('pkg_resources') is not None:
        return False  # stock mmengine works
    if importlib.util.find_spec('mmengine') is None:
        return False
    import mmengine.utils.package_utils as stock

    if 'pkg_resources' not in stock.is_installed.__code__.co_names:
        return False  # a mmengine that no longer uses it (PR #1676)
    ours = dict(
        is_installed=is_installed,
        get_installed_path=get_installed_path,
        package2module=package2module,
    )
    # The modules that imported the names (``from mmengine.utils import
    # get_installed_path``) hold their own references.
    for name in MODULES:
        module = sys.modules.get(name)
        for attr in NAMES:
            if module is not None and hasattr(module, attr):
                setattr(module, attr, ours[attr])
    return True
