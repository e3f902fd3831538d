"""Register every component of the plugin in mmaction2's registries.

Configs pull it in with ``custom_imports = dict(imports=
['tsm_plugin.registration'])``; code calls :func:`register_all_modules` (as
mmaction2's ``mmaction.utils.register_all_modules``). It fixes the pinned
stack first (:mod:`tsm_plugin.compat`), then imports the modules whose
classes are registered.
"""

from . import compat

compat.apply()

from . import evaluation  # noqa: E402  (registration)
from .datasets import (  # noqa: E402
    crop_resize,
    hmdb51,
    kinetics,
    multi_count_sampling,
    ssv2,
    sthv1,
    test_protocols,
    transforms,
)
from .engine import (  # noqa: E402
    checkpoint,
    count_blending,
    data_preprocessor,
    hooks,
    loops,
    optim_wrapper,
    samplers,
)
from .models import (  # noqa: E402
    distillation_loss,
    ensemble_recognizer,
    ffn_recognizer,
    ffn_resnet,
    flexible_recognizer,
    tsm_resnet,
)

REGISTERED = (
    checkpoint,
    count_blending,
    crop_resize,
    data_preprocessor,
    distillation_loss,
    ensemble_recognizer,
    evaluation,
    ffn_recognizer,
    ffn_resnet,
    flexible_recognizer,
    hmdb51,
    hooks,
    kinetics,
    loops,
    multi_count_sampling,
    optim_wrapper,
    samplers,
    ssv2,
    sthv1,
    test_protocols,
    transforms,
    tsm_resnet,
)


def register_all_modules(init_default_scope: bool = True) -> None:
    """Make sure everything is registered; optionally set the scope.

    Importing this module registers; the function exists for code that
    builds from registries without a config (tests, benchmarks).

    Args:
        init_default_scope (bool): also make ``'mmaction'`` the default
            registry scope. Defaults to True.
    """
    if init_default_scope:
        from mmengine.registry import init_default_scope as init_scope

        init_scope('mmaction')
