"""Building models from the registries, from scratch and quietly."""

import contextlib
import copy
import logging

from mmaction.registry import MODELS
from mmengine.logging import MMLogger

from tsm_plugin.registration import register_all_modules


def init_scope() -> None:
    """Build from mmaction2's registries, ours registered into them."""
    register_all_modules(init_default_scope=True)


@contextlib.contextmanager
def quiet_init_logs():
    """Keep the output short: mmengine logs every parameter's init at INFO."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_model(model_cfg, quiet: bool = True):
    """A model of ``model_cfg`` with initial weights, nothing downloaded.

    Timing does not depend on the weights, so the backbone's ``pretrained``
    is dropped.

    Args:
        model_cfg (dict): a model config (copied, not changed).
        quiet (bool): hide mmengine's per-parameter init log.

    Returns:
        torch.nn.Module: on the CPU, in training mode.
    """
    model_cfg = copy.deepcopy(model_cfg)
    if model_cfg.get('backbone') is not None:
        model_cfg['backbone']['pretrained'] = None
    with quiet_init_logs() if quiet else contextlib.nullcontext():
        model = MODELS.build(model_cfg)
        model.init_weights()
    return model
