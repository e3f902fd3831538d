"""Building models from the registries, from scratch and quietly, and the
recipe's model and optim wrapper configs the step modes build."""

import contextlib
import copy
import logging
from typing import Optional

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


def scratch_model_cfg(cfg, channels_last, frames: Optional[int] = None):
    """The recipe's model from scratch (no download) with our
    channels_last data preprocessor, at ``frames`` frames where given."""
    model = copy.deepcopy(cfg.model)
    model.backbone.pretrained = None
    if frames is not None:
        model.backbone.num_segments = frames
        model.cls_head.num_segments = frames
    model.data_preprocessor = preprocessor_cfg(
        model,
        type='ChannelsLastActionDataPreprocessor',
        channels_last=channels_last,
    )
    return model


def preprocessor_cfg(model_cfg, **kind) -> dict:
    """``model_cfg``'s data preprocessor, its type and ``channels_last``
    replaced by ``kind``."""
    pre = dict(model_cfg.data_preprocessor)
    pre.pop('channels_last', None)
    return dict(pre, **kind)


def optim_wrapper_cfg(cfg, **kind) -> dict:
    """The recipe's optim wrapper (optimizer, constructor, clipping), its
    type and precision replaced by ``kind``."""
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    for key in ('type', 'precision', 'loss_scale', 'dtype'):
        wrapper.pop(key, None)
    return dict(wrapper, **kind)
