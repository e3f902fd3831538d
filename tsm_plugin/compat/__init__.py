"""Fixes of bugs in the pinned OpenMMLab stack, one module per fix.

Pinned stack: mmaction2 1.2.0, mmengine 0.10.7, mmcv-lite 2.1.0, torch 2.13.
Each module has one ``apply() -> bool`` (True when it changed something),
applied once per process (:mod:`._once`), cites the upstream bug, and is
covered by a test in ``tests/compat/`` that shows the stock failure first.
Where the stock behaviour can be told from the stack itself (a missing
``pkg_resources``, torch's ``add_safe_globals``), the fix checks it and
does nothing on a stack that no longer needs it; the others patch the
pinned versions unconditionally. Only bugs are fixed here; policy (atomic
checkpoints, safe loading, resume) is registered components that configs
name.

* :data:`IMPORT_FIXES` make ``import mmaction.models`` work at all (they
  touch ``sys.modules`` only), and mmaction2's configs load
  (``_base_ = ['mmaction::...']``, :mod:`.package_paths`;
  ``Config.fromfile('mmaction::...')``, :mod:`.scoped_config_paths`); importing
  :mod:`tsm_plugin` applies them, before any config is parsed (a config's
  ``custom_imports`` are read only after it is parsed).
* :func:`apply` applies every fix once, in order
  (:mod:`tsm_plugin.registration` calls it).

Breakages that need no patch, because our configs avoid them:

* mmaction2's 16-frame sthv2 test config passes ``pipeline`` to the
  dataloader instead of the dataset; our configs put every override inside
  ``dataset=``.
* numpy 2: ``ColorJitter``'s hue shift overflows uint8 at random; no recipe
  of ours uses ``ColorJitter`` (neither TSM nor FFN does on SSv2).
"""

import warnings

from . import (
    checkpoint_globals,
    ddp_cpu_device_ids,
    dist_cpu_init,
    importlib_metadata_alias,
    mmaction_drn,
    package_paths,
    resnet_tsm_init,
    runner_timestamp,
    scoped_config_paths,
)
from ._once import apply_fix

IMPORT_FIXES = (
    importlib_metadata_alias,
    mmaction_drn,
    package_paths,
    scoped_config_paths,
)
STACK_FIXES = (
    checkpoint_globals,
    resnet_tsm_init,
    dist_cpu_init,
    ddp_cpu_device_ids,
    runner_timestamp,
    scoped_config_paths,
)


def _run(fixes) -> None:
    for fix in fixes:
        apply_fix(fix)


def apply_import_fixes() -> None:
    """Make ``import mmaction.models`` work and mmaction2's configs load
    (no mmaction import here)."""
    _run(IMPORT_FIXES)
    # mmcv-lite has no compiled ops by design; mmcv warns about it on every
    # import of mmaction.models. TSM needs none of them.
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``'
    )


def apply() -> None:
    """Apply every fix once, in the order their imports need."""
    apply_import_fixes()
    _run(STACK_FIXES)
