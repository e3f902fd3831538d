"""An evaluation-time ensemble of trained recognizers: TSM-Ensemble.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 5.1 and
Tab. 1: "use of the models that are individually trained at 4, 8 and 16
Frame and averagely ensemble them to form a new model". Tab. 1 lists
25.6x3 M parameters and three times a TSM's GFLOPs at every frame count, so
at ``K`` frames every member runs on the same ``K``-frame clip and their
predictions are averaged (not their weights). Nothing is trained.
"""

import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import ConfigValueError, InputError
from ..utils.config import load_config
from . import ffn_recognizer, flexible_recognizer, tsm_resnet  # noqa: F401
from .checkpoint_formats import load_into
from .frame_counts import NumSegments, frame_count, set_model_num_frames

AVERAGES = ('prob', 'logits')
MEMBER_KEYS = ('config', 'checkpoint', 'cfg_options')


def _check_member(spec, index: int) -> None:
    """Raise :class:`ConfigValueError` on a bad member spec."""
    what = f'EnsembleRecognizer members[{index}]'
    if isinstance(spec, nn.Module):
        return
    if not isinstance(spec, dict) or not isinstance(spec.get('config'), str):
        raise ConfigValueError(
            f'{what} must be a dict with a config path (and checkpoint, '
            f'cfg_options), got {spec!r}'
        )
    unknown = sorted(set(spec) - set(MEMBER_KEYS))
    if unknown:
        raise ConfigValueError(
            f'{what} takes {list(MEMBER_KEYS)} only, got {unknown[0]!r}'
        )


def build_member(spec: dict) -> Tuple[nn.Module, Optional[dict]]:
    """A member recognizer: its config's model, its checkpoint loaded.

    Args:
        spec (dict): ``config`` (a path, read by
            :func:`~tsm_plugin.utils.config.load_config` with
            ``cfg_options``), ``checkpoint`` (a ``.pth`` in any format of
            :mod:`~tsm_plugin.models.checkpoint_formats`, refused unless
            it fills the model; None keeps the model's constructor init).

    Returns:
        tuple: The model, and its config's ``model.data_preprocessor``.

    Raises:
        InputError: a missing config or checkpoint, or a checkpoint that
            does not fit the config's model.
    """
    cfg = load_config(spec['config'], spec.get('cfg_options'))
    with DefaultScope.overwrite_default_scope(
        cfg.get('default_scope', 'mmaction')
    ):
        member = MODELS.build(cfg.model)
    preprocessor = cfg.model.get('data_preprocessor')
    path = spec.get('checkpoint')
    if path is None:
        return member, preprocessor
    if not osp.isfile(path):
        raise InputError(f'ensemble member checkpoint not found: {path}')
    checkpoint = CheckpointLoader.load_checkpoint(
        path, map_location='cpu', logger='silent'
    )
    load_into(checkpoint, member, path)  # refuses what does not fill it
    return member, preprocessor


@MODELS.register_module()
class EnsembleRecognizer(NumSegments, BaseModel):
    """Trained recognizers run on the same clip, their predictions averaged.

    FFN's TSM-Ensemble (`Frame Flexible Network
    <https://arxiv.org/abs/2303.14817>`_, Tab. 1): the TSMs trained at 4, 8
    and 16 frames. At ``K`` frames (``num_segments``, which the TFD sweep
    sets through :func:`~tsm_plugin.models.frame_counts.frame_count`) each
    member runs on the ``K``-frame clip at ``K`` frames (its shift and
    consensus), so the FLOP counter's trace of ``mode='tensor'`` runs every
    member: the ensemble's GFLOPs and parameters are the members' sums.

    Class scores: each member's ``extract_feat(stage='head')``, one row per
    view. The paper does not say what is averaged; ``average`` chooses:

    * 'prob' (default): each member's softmax, averaged over the views (as
      mmaction2's ``average_clips='prob'``), then over the members:
      ``pred_score`` is a probability, the mean of the members'
      ``pred_score``;
    * 'logits': the raw scores averaged the same way.

    An input of ``(N, views * K, C, H, W)`` has ``views`` clips; a frame
    count that is not a multiple of ``K`` is one clip of that many frames.
    It cannot be trained (``loss``/``train_step`` raise).

    Args:
        members (Sequence[dict | nn.Module]): Each ``dict(config=path,
            checkpoint=path or None, cfg_options=dict or None)``
            (:func:`build_member`), or a built recognizer.
        average (str): 'prob' or 'logits'. Defaults to 'prob'.
        num_segments (int, optional): ``K``. Defaults to the largest
            ``backbone.num_segments`` of the members.
        data_preprocessor (dict | nn.Module, optional): The ensemble's (the
            members' own are not run). Defaults to the first member's
            config's ``model.data_preprocessor``.
        init_cfg (dict, optional): Unused: the members are complete.
    """

    def __init__(
        self,
        members: Sequence[Union[dict, nn.Module]],
        average: str = 'prob',
        num_segments: Optional[int] = None,
        data_preprocessor: Optional[Union[dict, nn.Module]] = None,
        init_cfg: Optional[dict] = None,
    ) -> None:
        if not isinstance(members, (list, tuple)) or not members:
            raise ConfigValueError(
                f'EnsembleRecognizer members must be a non-empty list, got '
                f'{members!r}'
            )
        if average not in AVERAGES:
            raise ConfigValueError(
                f'EnsembleRecognizer average must be one of {AVERAGES}, '
                f'got {average!r}'
            )
        for i, spec in enumerate(members):
            _check_member(spec, i)
        built = [
            (m, None) if isinstance(m, nn.Module) else build_member(m)
            for m in members
        ]
        super().__init__(
            data_preprocessor=self._preprocessor(data_preprocessor, *built[0]),
            init_cfg=init_cfg,
        )
        built = [member for member, _ in built]
        self.average = average
        self.members = nn.ModuleList(built)
        if num_segments is None:
            counts = [
                getattr(getattr(m, 'backbone', None), 'num_segments', None)
                for m in built
            ]
            if not any(counts):
                raise ConfigValueError(
                    'EnsembleRecognizer needs num_segments: no member has a '
                    'backbone.num_segments'
                )
            num_segments = max(c for c in counts if c)
        self.num_segments = num_segments

    @staticmethod
    def _preprocessor(given, first: nn.Module, first_cfg) -> nn.Module:
        """The ensemble's data preprocessor, built: ``given``, else the first
        member's config's, else a copy of the first member's."""
        if isinstance(given, nn.Module):
            return given
        cfg = given or first_cfg
        if cfg is None:
            return copy.deepcopy(first.data_preprocessor)
        with DefaultScope.overwrite_default_scope('mmaction'):
            return MODELS.build(cfg)

    def _num_segments_changed(self) -> None:
        """Every member runs at the ensemble's ``K``."""
        if 'members' in self._modules:
            for member in self.members:
                set_model_num_frames(member, self._num_segments)

    def test_frames(self, inputs: torch.Tensor) -> int:
        """The frame count ``K`` of ``(N, views * K, ...)``:
        ``num_segments`` if it divides the frames, else the frames."""
        frames = int(inputs.shape[1])
        k = self._num_segments
        return k if frames % k == 0 else frames

    def member_scores(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Each member's class scores on ``(N, views * K, C, H, W)``:
        ``(N * views, num_classes)`` raw scores, one row per view."""
        k = self.test_frames(inputs)
        scores = []
        for member in self.members:
            with frame_count(member, k):
                out, _ = member.extract_feat(
                    inputs, stage='head', test_mode=True
                )
            scores.append(out)
        return scores

    def _per_view(self, scores: torch.Tensor) -> torch.Tensor:
        return F.softmax(scores, dim=1) if self.average == 'prob' else scores

    def predict(self, inputs: torch.Tensor, data_samples) -> list:
        """``pred_score`` (the average) and ``pred_label`` per sample.

        Args:
            inputs (torch.Tensor): ``(N, views * K, C, H, W)``.
            data_samples (list[ActionDataSample]): One per sample.

        Returns:
            list[ActionDataSample]: ``data_samples``, predictions set.
        """
        n = len(data_samples)
        per_member = [
            self._per_view(s).view(n, -1, s.shape[-1]).mean(1)
            for s in self.member_scores(inputs)
        ]
        scores = torch.stack(per_member).mean(0)
        labels = scores.argmax(dim=-1, keepdim=True).detach()
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score)
            sample.set_pred_label(label)
        return data_samples

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples=None,
        mode: str = 'tensor',
        stage: str = 'head',
        **kwargs,
    ):
        """'predict' (:meth:`predict`) or 'tensor': the members' per-view
        scores (softmax for 'prob') averaged, ``(N * views, num_classes)``;
        only ``stage='head'``. 'loss' raises: an ensemble is not trained.
        """
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            self.loss()
        if mode != 'tensor' or stage != 'head':
            raise ValueError(
                f"EnsembleRecognizer runs mode 'predict', or 'tensor' with "
                f"stage 'head'; got mode={mode!r}, stage={stage!r}"
            )
        scores = [self._per_view(s) for s in self.member_scores(inputs)]
        return torch.stack(scores).mean(0)

    def loss(self, *args, **kwargs):
        """Raises ConfigValueError: an ensemble is evaluated, not trained."""
        raise ConfigValueError(
            'EnsembleRecognizer is an evaluation model: train its members '
            '(their configs), not the ensemble'
        )

    def train_step(self, data, optim_wrapper):
        """Raises ConfigValueError: see :meth:`loss`."""
        self.loss()

    def init_weights(self) -> None:
        """Nothing: the members are complete at build (their checkpoints)."""
