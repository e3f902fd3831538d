"""``Config.fromfile('mmaction::...')``: a package's config by scope.

mmengine 0.10.7 resolves a ``package::path`` config name inside a config's
``_base_`` (``Config._get_cfg_path``) and in ``mmengine.hub.get_config``,
whose docstring calls it equivalent to ``Config.fromfile`` of the file; but
``Config.fromfile`` itself opens the name as a path
(https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/config/config.py,
``_is_lazy_import`` and ``_file2dict``) and fails with ``FileNotFoundError:
... 'mmaction::recognition/tsm/...'``. mmaction2's docs and users write
``Config.fromfile('mmaction::...')`` to load its recipes.

The fix resolves such a name through mmengine's own ``_get_cfg_path`` (the
package's metafile first, then its ``configs/`` folder: the file
``_base_`` would load) before the stock ``fromfile`` reads it. A name that is
an existing file is read as a file; without ``::`` nothing changes. It needs
:mod:`.package_paths` where ``pkg_resources`` is missing.
"""

import functools
import os.path as osp
from pathlib import Path


def resolve(filename):
    """The file a ``package::path`` config name stands for; other names
    unchanged.

    Raises:
        ModuleNotFoundError: the package is not installed.
    """
    from mmengine.config import Config

    if isinstance(filename, Path) or '::' not in filename:
        return filename
    if osp.isfile(filename):
        return filename
    path, _scope = Config._get_cfg_path(filename, filename)
    return path


def apply() -> bool:
    """Let ``Config.fromfile`` take a ``package::path`` name.

    Returns:
        bool: whether ``fromfile`` was wrapped now.
    """
    from mmengine.config import Config

    stock = Config.fromfile
    if getattr(stock, 'resolves_scopes', False):
        return False

    @functools.wraps(stock)
    def fromfile(filename, *args, **kwargs):
        return stock(resolve(filename), *args, **kwargs)

    fromfile.resolves_scopes = True
    Config.fromfile = staticmethod(fromfile)
    return True
