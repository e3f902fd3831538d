"""Whole checkpoints of TSM and FFN loaded into a model, strictly.

A checkpoint from any codebase of :mod:`~tsm_plugin.models.state_dict_keys`
(ours, mmaction2's, the TSM repo's, the FFN repo's) is written in the keys
of the model at hand (:class:`LoadPlan`), and refused in one line when it
does not fill the model (:func:`plan_load`): a missing or unexpected key, a
shape, or a temporal shift placed elsewhere. A single-network checkpoint (a
TSM) loaded into an FFN model gives every branch its BatchNorms; adapters it
lacks keep the model's init (identity for ``adapter_init='zeros'``): FFN's
warm start.
"""

import re
from typing import Dict, List, Optional, Tuple

import torch

from ..errors import InputError
from .state_dict_keys import FORMATS, has_branches, match_keys, recognise


def _frame_counts(model) -> Optional[Tuple[int, ...]]:
    return getattr(getattr(model, 'backbone', None), 'frame_counts', None)


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
    found = match_keys(
        state_dict, model.state_dict(), fmt, _frame_counts(model)
    )
    out = {key: state_dict[src] for key, src in found.pairs.items()}
    return out, found.missing, found.unused


_SHIFTED_BLOCK = re.compile(r'(layer\d+\.\d+)\.conv1\.(?:conv\.)?net\.')
_BLOCK_SHIFT = re.compile(r'(?:^|\.)layer\d+\.\d+\.net\.')


def _shift_misfit(state_dict, model_keys, fmt: str) -> Optional[str]:
    """The first block a repo checkpoint shifts differently from the model.

    The shift has no weights, so canonical names drop the repos' ``.net.``;
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
    if (
        has_branches(state)
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
        counts = _frame_counts(model)
        single = self.fmt == 'ours' and not has_branches(state)
        self.warm_start = single and counts is not None
        if self.fmt == 'ours' and not self.warm_start:
            if state and all(k.startswith('module.') for k in state):
                state = {k[len('module.') :]: v for k, v in state.items()}
            source_key = {k: k for k in state if k in model_state}
            unexpected = [k for k in state if k not in model_state]
            missing = [k for k in model_state if k not in state]
        else:
            found = match_keys(state, model_state, self.fmt, counts)
            source_key, missing, unexpected = found
        converted = {k: state[src] for k, src in source_key.items()}
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


def load_into(checkpoint: dict, model, what: str = 'checkpoint') -> LoadPlan:
    """Load ``checkpoint`` into ``model`` by its :func:`plan_load`: what
    the plan leaves out (a warm start's adapters) keeps its init.

    Raises:
        InputError: as :func:`plan_load`, before anything is loaded.
    """
    plan = plan_load(checkpoint, model, what)
    model.load_state_dict(plan.state_dict, strict=False)
    return plan


__all__ = [
    'FORMATS',
    'LoadPlan',
    'convert',
    'load_into',
    'plan_load',
    'recognise',
    'source_name',
]
