"""Checkpoint formats of TSM and FFN, recognised by their keys.

Three codebases save TSM-ResNet weights under different names, and FFN
(https://arxiv.org/abs/2303.14817) keeps one BatchNorm and one adapter per
frame count. Every format is read into one canonical naming (torchvision's
ResNet keys, a ``#<frames>`` tag on a per-branch BatchNorm or adapter, and
``fc`` for the classifier) and written out in the keys of the model at hand:

* ``ours``: this plugin's keys (mmaction2's ``ResNetTSM`` keys for TSM, so
  mmaction2 model-zoo checkpoints are ``ours`` too);
* ``tsm_repo``: mit-han-lab/temporal-shift-module's ``main.py`` (saved from
  ``nn.DataParallel``: ``module.base_model.layer1.0.conv1.net.weight``,
  ``module.new_fc.weight``);
* ``ffn_repo``: BeSpontaneous/FFN-pytorch (``module.base_model.bn1_4``,
  ``....adaconv_16.weight``, ``....downsample_bn_8``, ``module.new_fc``).

A single-branch checkpoint (a TSM) loaded into an FFN model gives every
branch its BatchNorms; adapters it lacks keep the model's init (identity
for ``adapter_init='zeros'``): FFN's warm start.
"""

import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import InputError

FORMATS = ('ours', 'tsm_repo', 'ffn_repo')
_REPO_PREFIX = 'module.base_model.'
_REPO_FC = 'module.new_fc.'


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


def _frame_counts(model) -> Optional[Tuple[int, ...]]:
    return getattr(getattr(model, 'backbone', None), 'frame_counts', None)


def recognise(state_dict: Dict[str, torch.Tensor]) -> str:
    """The format of a checkpoint's ``state_dict`` (one of :data:`FORMATS`)."""
    keys = list(state_dict)
    if any(k.startswith(_REPO_PREFIX) for k in keys):
        ffn = any(
            'adaconv_' in k or re.search(r'\.bn\d_\d+\.', '.' + k)
            for k in keys
        )
        return 'ffn_repo' if ffn else 'tsm_repo'
    return 'ours'


def _canonical_ours(key: str, counts: Optional[Sequence[int]]) -> str:
    """Our recognizer key -> canonical (``counts``: an FFN's branches)."""
    if key.startswith('cls_head.fc_cls.'):
        return 'fc.' + key[len('cls_head.fc_cls.') :]
    if not key.startswith('backbone.'):
        return key
    name = key[len('backbone.') :]
    if counts is not None:  # FFN: bn1.<i>. / adapter.<i>. / downsample.*
        name = re.sub(r'downsample\.conv\.', 'downsample.0.', name)
        name = re.sub(
            r'downsample\.bn\.(\d+)\.',
            lambda m: f'downsample.1#{counts[int(m[1])]}.',
            name,
        )
        name = re.sub(
            r'(^|\.)(bn\d?|adapter)\.(\d+)\.',
            lambda m: f'{m[1]}{m[2]}#{counts[int(m[3])]}.',
            name,
        )
        return name
    from .tsm_resnet import torchvision_name

    return torchvision_name(name)


def _canonical_repo(key: str) -> str:
    """A TSM-repo or FFN-repo key -> canonical."""
    if key.startswith(_REPO_FC):
        return 'fc.' + key[len(_REPO_FC) :]
    name = key[len(_REPO_PREFIX) :] if key.startswith(_REPO_PREFIX) else key
    name = name.replace('.net.', '.')
    name = name.replace('downsample_conv.', 'downsample.0.')
    name = re.sub(r'downsample_bn_(\d+)\.', r'downsample.1#\1.', name)
    name = re.sub(r'adaconv_(\d+)\.', r'adapter#\1.', name)
    return re.sub(r'(^|\.)(bn\d?)_(\d+)\.', r'\1\2#\3.', name)


def canonical(
    state_dict: Dict[str, torch.Tensor],
    fmt: str,
    counts: Optional[Sequence[int]] = None,
) -> Dict[str, str]:
    """Canonical name -> the source key, for every tensor of a checkpoint."""
    if fmt == 'ours':
        return {_canonical_ours(k, counts): k for k in state_dict}
    return {_canonical_repo(k): k for k in state_dict}


def convert(
    state_dict: Dict[str, torch.Tensor], model, fmt: Optional[str] = None
) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """``state_dict`` (any format) in the keys of ``model``.

    Args:
        state_dict (dict): The checkpoint's tensors.
        model (nn.Module): The recognizer to load into (TSM or FFN).
        fmt (str, optional): The source format; recognised if None.

    Returns:
        tuple: the converted state dict, the model's keys it does not fill
        (``num_batches_tracked`` and, for a single-branch source, adapters
        excluded) and the source keys it does not use.
    """
    fmt = fmt or recognise(state_dict)
    counts = _frame_counts(model)
    # Ours from an FFN carries branch indices only if the model has them.
    source_counts = (
        counts
        if fmt == 'ours'
        and any(re.search(r'\.bn1\.\d+\.', k) for k in state_dict)
        else None
    )
    source = canonical(state_dict, fmt, source_counts)
    target = {_canonical_ours(k, counts): k for k in model.state_dict()}
    out, missing, used = {}, [], set()
    for name, key in target.items():
        hit = name if name in source else re.sub(r'#\d+', '', name)
        if hit in source:
            out[key] = state_dict[source[hit]]
            used.add(hit)
        elif not (
            key.endswith('num_batches_tracked')
            or ('#' in name and 'adapter' in name)
        ):
            missing.append(key)
    unused = sorted(
        source[n]
        for n in set(source) - used
        if not source[n].endswith('num_batches_tracked')
    )
    return out, missing, unused


__all__ = ['FORMATS', 'canonical', 'convert', 'read_state_dict', 'recognise']
