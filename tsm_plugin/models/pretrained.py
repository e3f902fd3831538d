"""A backbone's ``pretrained`` weights: one loader for TSM and FFN.

Both :class:`~tsm_plugin.models.tsm_resnet.TSMResNet` and
:class:`~tsm_plugin.models.ffn_resnet.FFNResNet` fill themselves from a file
through :func:`load_pretrained`, which pairs keys by their canonical names
(:mod:`~tsm_plugin.models.state_dict_keys`): a torchvision ResNet (the
ImageNet start), a TSM of ours or mmaction2's, the TSM repo's or the FFN
repo's. A single-network source fills every branch of an FFN (each conv the
shared conv, each BatchNorm every branch's); adapters it lacks keep their
init.
"""

import os.path as osp
from typing import Dict

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import InputError
from .state_dict_keys import match_keys


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint file or URL (``torchvision://resnet50``).

    Raises:
        InputError: a local path that does not exist, or a file holding no
            state dict.
    """
    if '://' not in path and not osp.isfile(osp.expanduser(path)):
        raise InputError(f'pretrained checkpoint not found: {path}')
    checkpoint = CheckpointLoader.load_checkpoint(
        osp.expanduser(path), map_location='cpu', logger='silent'
    )
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict):
        raise InputError(
            f'pretrained checkpoint {path} holds no state '
            f'dict (got {type(checkpoint).__name__})'
        )
    return checkpoint


def load_pretrained(backbone: nn.Module, path: str) -> None:
    """Fill ``backbone`` from the checkpoint at ``path``, by canonical name.

    What the checkpoint lacks keeps the backbone's init (a warning names
    it); what the backbone has no place for, such as ImageNet's ``fc``, is
    listed in the log.

    Args:
        backbone (nn.Module): A TSM or FFN backbone; an FFN's
            ``frame_counts`` name its branches.
        path (str): A local file or a URL mmengine reads
            (``torchvision://resnet50``).

    Raises:
        InputError: a missing file, a file with no state dict, or a tensor
            whose shape does not fit (another depth): one line naming it.
    """
    name = type(backbone).__name__
    source = read_state_dict(path)
    own = backbone.state_dict()
    counts = getattr(backbone, 'frame_counts', None)
    found = match_keys(source, own, counts=counts)
    for key, src in found.pairs.items():
        if source[src].shape != own[key].shape:
            more = sum(
                source[s].shape != own[k].shape for k, s in found.pairs.items()
            )
            raise InputError(
                f'pretrained checkpoint {path}: {src} has shape '
                f'{tuple(source[src].shape)}, {name} {key} needs '
                f'{tuple(own[key].shape)}'
                + (f' (+{more - 1} more)' if more > 1 else '')
            )
    backbone.load_state_dict(
        {k: source[s] for k, s in found.pairs.items()}, strict=False
    )
    logger = MMLogger.get_current_instance()
    branches = f' into {len(counts)} branches' if counts else ''
    logger.info(
        f'{name}: loaded {len(found.pairs)} tensors from {path}{branches}'
    )
    if found.missing:
        logger.warning(
            f'{name}: missing in {path} (kept scratch init): '
            f'{", ".join(found.missing)}'
        )
    if found.unused:
        logger.info(
            f'{name}: unused keys of {path}: {", ".join(sorted(found.unused))}'
        )
