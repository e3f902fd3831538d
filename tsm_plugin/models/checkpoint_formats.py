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
    used_keys = {source[n] for n in used}
    unused = [
        k
        for k in state_dict
        if k not in used_keys and not k.endswith('num_batches_tracked')
    ]
    return out, missing, unused


_SHIFTED_BLOCK = re.compile(r'(layer\d+\.\d+)\.conv1\.(?:conv\.)?net\.')
_BLOCK_SHIFT = re.compile(r'(?:^|\.)layer\d+\.\d+\.net\.')


def _shift_misfit(state_dict, model_keys, fmt: str) -> Optional[str]:
    """The first block a repo checkpoint shifts differently from the model.

    The shift has no weights, so ``canonical`` drops the repos' ``.net.``;
    it is checked here: the TSM repo's ``shift_place='block'`` (the whole
    block wrapped) and a TSN (no shift) do not fit our residual shift.
    """
    if fmt == 'ours':
        return None  # our keys carry the shift themselves (``.net.``)
    for key in state_dict:
        if _BLOCK_SHIFT.search(key):
            return (
                f'{key} shifts the whole block (TSM shift_place=block); '
                'the model shifts the residual branch (blockres)'
            )
    shifted_model = {
        m[1] for k in model_keys if (m := _SHIFTED_BLOCK.search(k))
    }
    shifted_source = {
        m[1] for k in state_dict if (m := _SHIFTED_BLOCK.search(k))
    }
    if not shifted_model:  # a model without shift (FFN: its own shift)
        return None
    for key in state_dict:
        m = re.search(r'(layer\d+\.\d+)\.conv1\.(?:net\.)?weight$', key)
        if m and (m[1] in shifted_model) != (m[1] in shifted_source):
            where = 'shifts' if m[1] in shifted_source else 'does not shift'
            return (
                f'{key}: the checkpoint {where} {m[1]}, the model '
                f'{"does not" if m[1] in shifted_source else "does"} '
                '(another depth, or a TSN without shift?)'
            )
    return None


def source_name(checkpoint: dict, fmt: str) -> str:
    """The codebase a checkpoint comes from, for the one log line.

    mmaction2's ``ResNetTSM`` keys are ours, so ``'ours'`` from the keys is
    told apart by ``meta``: our Runner saves the config (which imports
    ``tsm_plugin``), ``tools/convert_checkpoint.py`` names its source.
    """
    if fmt != 'ours':
        return fmt
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    state = checkpoint.get('state_dict', checkpoint)
    branches = any(re.search(r'\.bn1\.\d+\.', k) for k in state)
    if (
        branches
        or 'source_format' in meta
        or 'tsm_plugin' in str(meta.get('cfg', ''))
    ):
        return 'ours'
    return 'mmaction2'


class LoadPlan:
    """A checkpoint's tensors in the model's keys and what does not fit.

    Attributes:
        fmt (str): the format recognised by the keys (:data:`FORMATS`).
        source (str): ``fmt``, with ``'ours'`` split into ours and
            ``'mmaction2'`` (see :func:`source_name`).
        state_dict (dict): tensors under the model's keys, shapes that fit.
        missing (list[str]): model keys the checkpoint does not fill.
        unexpected (list[str]): checkpoint keys the model has no place for.
        mismatched (list[tuple]): ``(model key, source key, source shape,
            model shape)`` of tensors whose shape does not fit.
        shift (str, optional): how the shift placement does not fit.
        warm_start (bool): a single-branch TSM into an FFN.
    """

    def __init__(self, checkpoint: dict, model) -> None:
        state = checkpoint.get('state_dict', checkpoint)
        if not isinstance(state, dict):
            raise InputError(
                f'checkpoint holds no state dict (got {type(state).__name__})'
            )
        self.fmt = recognise(state)
        self.source = source_name(checkpoint, self.fmt)
        model_state = model.state_dict()
        ffn_model = _frame_counts(model) is not None
        self.warm_start = (
            self.fmt == 'ours'
            and ffn_model
            and not any(re.search(r'\.bn1\.\d+\.', k) for k in state)
        )
        if self.fmt == 'ours' and not self.warm_start:
            if state and all(k.startswith('module.') for k in state):
                state = {k[len('module.') :]: v for k, v in state.items()}
            converted = {k: v for k, v in state.items() if k in model_state}
            unexpected = [k for k in state if k not in model_state]
            missing = [k for k in model_state if k not in state]
            source_key = {k: k for k in converted}
        else:
            converted, missing, unexpected = convert(state, model, self.fmt)
            src = canonical(state, self.fmt)
            counts = _frame_counts(model)
            source_key = {}
            for key in converted:
                name = _canonical_ours(key, counts)
                hit = name if name in src else re.sub(r'#\d+', '', name)
                source_key[key] = src.get(hit, key)
        skip = 'num_batches_tracked'
        self.missing = [k for k in missing if not k.endswith(skip)]
        self.unexpected = [k for k in unexpected if not k.endswith(skip)]
        self.mismatched = [
            (k, source_key[k], tuple(v.shape), tuple(model_state[k].shape))
            for k, v in converted.items()
            if tuple(v.shape) != tuple(model_state[k].shape)
        ]
        bad = {m[0] for m in self.mismatched}
        self.state_dict = {k: v for k, v in converted.items() if k not in bad}
        self.shift = _shift_misfit(state, model_state, self.fmt)

    def misfit(self) -> Optional[str]:
        """What does not fit, in one line; None if the checkpoint fills the
        model (a warm start's adapters excepted)."""
        parts = []
        if self.mismatched:
            key, src, shape, want = self.mismatched[0]
            name = key if key == src else f'{src} (-> {key})'
            parts.append(
                f'{name} is {list(shape)} in the checkpoint but '
                f'{list(want)} in the model'
                + (
                    f' (+{len(self.mismatched) - 1} more)'
                    if len(self.mismatched) > 1
                    else ''
                )
            )
        if self.shift:
            parts.append(self.shift)
        if self.missing:
            parts.append(
                f'{len(self.missing)} model keys missing, first '
                f'{self.missing[0]}'
            )
        if self.unexpected:
            parts.append(
                f'{len(self.unexpected)} checkpoint keys unexpected, first '
                f'{self.unexpected[0]}'
            )
        return '; '.join(parts) or None

    def summary(self) -> str:
        """The one log line naming the format."""
        what = self.source
        if self.warm_start:
            what += ' single-branch TSM, every BN copied into each branch'
        return (
            f'Checkpoint format: {what}; {len(self.state_dict)} tensors '
            f'mapped to the model'
        )


def plan_load(checkpoint: dict, model, what: str = 'checkpoint') -> LoadPlan:
    """:class:`LoadPlan` of ``checkpoint`` into ``model``, refusing a misfit.

    Args:
        checkpoint (dict): as read from the file (``state_dict`` inside, or
            a bare state dict).
        model (nn.Module): the recognizer (unwrapped).
        what (str): names the checkpoint in the error (its path).

    Raises:
        InputError: one line naming the format and the first key that does
            not fit (missing, unexpected, shape or shift placement).
    """
    plan = LoadPlan(checkpoint, model)
    problem = plan.misfit()
    if problem:
        raise InputError(
            f'{what} ({plan.source} format) does not fit the model of the '
            f'config: {problem}'
        )
    return plan


__all__ = [
    'FORMATS',
    'LoadPlan',
    'canonical',
    'convert',
    'plan_load',
    'read_state_dict',
    'recognise',
    'source_name',
]
