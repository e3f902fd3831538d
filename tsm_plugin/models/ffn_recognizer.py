"""FFN recognizer: three frame counts per training sample, one at test.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (FFN, CVPR
2023). A training sample holds the same video sampled at every frame count
of the backbone (:class:`~tsm_plugin.datasets.multi_count_sampling.
MultiCountSampleFrames`: 16 | 8 | 4 frames, largest first, one crop for
all). Each part runs its own branch of :class:`~tsm_plugin.models.
ffn_resnet.FFNResNet` and the shared head; the loss is the cross-entropy of
the largest count plus, for each smaller count, lambda times the Temporal
Distillation KL from the largest (:class:`~tsm_plugin.models.
distillation_loss.TemporalDistillationLoss`). At test a ``K``-frame clip
runs the branch nearest to ``K`` (ties to the larger count). The "w/o TD"
ablation (Sec. 5.4, Tab. 4) trains every count on the labels instead
(``branch_loss='ce'``).
"""

from typing import List, Optional, Sequence, Tuple

import torch
from mmaction.models.recognizers import Recognizer2D
from mmaction.registry import MODELS
from mmaction.utils import ConfigType, OptConfigType, SampleList

from ..errors import ConfigValueError
from . import distillation_loss, ffn_resnet  # noqa: F401  (registration)
from .ffn_fused import run_branches

# train_cfg keys and their defaults: how the training step runs the branches
TRAIN_CFG = dict(fused=True, split_stages=3)
# train_cfg keys taken when given (defaults: shared_bn_batch='branch')
OPTIONAL_TRAIN_CFG = ('shared_bn_batch',)
SHARED_BN_BATCHES = ('branch', 'joint')
BRANCH_LOSSES = ('distill', 'ce')


def check_train_cfg(train_cfg: OptConfigType) -> dict:
    """``train_cfg`` with its defaults (:data:`TRAIN_CFG`).

    Raises:
        ConfigValueError: on an unknown key or a bad value.
    """
    cfg = dict(TRAIN_CFG, **(train_cfg or {}))
    known = sorted((*TRAIN_CFG, *OPTIONAL_TRAIN_CFG))
    unknown = sorted(set(cfg) - set(known))
    fused, split = cfg.get('fused'), cfg.get('split_stages')
    batch = cfg.get('shared_bn_batch', 'branch')
    if unknown:
        bad = f'takes {known} only, got {unknown[0]!r}'
    elif not isinstance(fused, bool):
        bad = f'fused must be True or False, got {fused!r}'
    elif type(split) is not int or not 0 <= split <= 4:
        bad = f'split_stages must be an integer from 0 to 4, got {split!r}'
    elif batch not in SHARED_BN_BATCHES:
        bad = f'shared_bn_batch must be one of {SHARED_BN_BATCHES}, got '
        bad += repr(batch)
    else:
        return cfg
    raise ConfigValueError(f'FFNRecognizer train_cfg {bad}')


def check_ce_weights(
    branch_loss: str, ce_weights: Optional[Sequence[float]], branches: int
) -> Optional[Tuple[float, ...]]:
    """``ce_weights`` as a tuple (None: 1 each), checked against
    ``branch_loss`` and the number of branches.

    Raises:
        ConfigValueError: an unknown ``branch_loss``, weights with
            'distill', or not one number >= 0 per branch.
    """
    if branch_loss not in BRANCH_LOSSES:
        raise ConfigValueError(
            f'FFNRecognizer branch_loss must be one of {BRANCH_LOSSES}, '
            f'got {branch_loss!r}'
        )
    if ce_weights is None:
        return None
    if branch_loss != 'ce':
        raise ConfigValueError(
            f"FFNRecognizer ce_weights needs branch_loss='ce', got "
            f'{branch_loss!r}'
        )
    ok = isinstance(ce_weights, (list, tuple)) and len(ce_weights) == branches
    ok = ok and all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
        for w in ce_weights
    )
    if not ok:
        raise ConfigValueError(
            f'FFNRecognizer ce_weights must be {branches} numbers >= 0, one '
            f'per frame count largest first, got {ce_weights!r}'
        )
    return tuple(float(w) for w in ce_weights)


@MODELS.register_module()
class FFNRecognizer(Recognizer2D):
    """Recognizer2D that trains every frame count of an FFN backbone.

    The frame counts are the backbone's ``frame_counts``. In training the
    input is ``(N, sum(frame_counts), C, H, W)``, the counts in decreasing
    order (16 | 8 | 4). The losses are:

    * ``loss_cls`` (and ``top1_acc``/``top5_acc``): the head's loss on the
      largest count's logits;
    * ``loss_kl_<n>f`` for each smaller count ``n``: ``distill_loss`` of
      that count's logits against the largest count's, detached;
    * or, with ``branch_loss='ce'`` (the paper's "w/o TD": "calculating CE
      loss on the predictions of all sub-networks respectively"),
      ``loss_cls_<n>f``: the head's loss of that count's logits against
      the labels, no KL; ``loss_cls`` and each ``loss_cls_<n>f`` times its
      ``ce_weights`` entry.

    At test, ``K`` is the backbone's ``num_segments`` (the value the TFD
    sweep sets) when the input's frames per sample are a multiple of it
    (``frames // K`` views, averaged by the head as in Recognizer2D), else
    the input's frames per sample (one view). The backbone routes ``K`` to
    its nearest branch and shifts over ``K`` frames; the head averages the
    ``K`` frames' scores.

    The head is mmaction2's ``TSMHead`` (or any head whose forward takes
    ``num_segs``): its ``num_segments`` is set to each call's frame count
    and restored afterwards. Its ``fc_cls`` stays the last ``nn.Linear`` of
    the model, as ``TSMOptimWrapperConstructor(fc_lr5=True)`` needs.

    Args:
        backbone (dict): An :class:`FFNResNet` config.
        cls_head (dict): The shared head's config.
        distill_loss (dict): The distillation loss's config; its
            ``loss_weight`` is FFN's lambda. Defaults to
            ``dict(type='TemporalDistillationLoss')`` (lambda 1, T 1).
            Not built with ``branch_loss='ce'``.
        neck (dict, optional): Not supported; must be None.
        train_cfg (dict, optional): How the training step runs the
            branches; the result is the same either way. ``fused``: all of
            them in one pass (:func:`~tsm_plugin.models.ffn_fused.
            run_branches`, default True), or one after another through the
            backbone's forward. ``split_stages`` (0-4): how many residual
            stages the fused pass runs branch by branch before it runs the
            branches together; default 3, the fastest at the recipe's
            224 px on a CPU (docs/ffn.md, the training step and its cost).
            A backbone without weight sharing always runs branch by
            branch. ``shared_bn_batch`` (a ``shared_bn`` backbone, "w/o
            SN"; the paper does not say how its BN batches the branches):
            'branch' (default) normalizes each branch's frames with their
            own batch statistics, as separate forward passes do, each
            branch updating the running statistics in turn; 'joint'
            normalizes all the branches' frames with one set of batch
            statistics (:func:`~tsm_plugin.models.ffn_fused.run_branches`
            ``joint_norm``, whatever ``fused`` says).
        test_cfg (dict, optional): Unused by the routing (the head reads
            ``average_clips`` from its own config). Defaults to None.
        data_preprocessor (dict, optional): As Recognizer2D's.
        branch_loss (str): 'distill' (default, FFN's Temporal
            Distillation) or 'ce' (every count on the labels, "w/o TD").
        ce_weights (Sequence[float], optional): With 'ce', one weight per
            frame count, largest first. Defaults to None: 1 each, the
            paper's sum (it states no weights).
    """

    def __init__(
        self,
        backbone: ConfigType,
        cls_head: ConfigType,
        distill_loss: ConfigType = dict(type='TemporalDistillationLoss'),
        neck: OptConfigType = None,
        train_cfg: OptConfigType = None,
        test_cfg: OptConfigType = None,
        data_preprocessor: OptConfigType = None,
        branch_loss: str = 'distill',
        ce_weights: Optional[Sequence[float]] = None,
    ) -> None:
        if neck is not None:
            raise ConfigValueError(
                f'FFNRecognizer takes no neck, got {neck!r}'
            )
        if cls_head is None:
            raise ConfigValueError('FFNRecognizer needs a cls_head')
        train_cfg = check_train_cfg(train_cfg)
        super().__init__(
            backbone=backbone,
            cls_head=cls_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
        )
        counts = getattr(self.backbone, 'frame_counts', None)
        if not counts:
            raise ConfigValueError(
                f'FFNRecognizer needs a backbone with frame_counts (an '
                f'FFNResNet), got {type(self.backbone).__name__}'
            )
        self._check_shared_bn_batch()
        self.branch_loss = branch_loss
        self.ce_weights = check_ce_weights(
            branch_loss, ce_weights, len(counts)
        )
        # registered after the head: fc_cls stays the last nn.Linear
        self.distill_loss = (
            MODELS.build(distill_loss) if branch_loss == 'distill' else None
        )

    def _check_shared_bn_batch(self) -> None:
        """'joint' needs shared BatchNorms and shared convs."""
        if self.train_cfg.get('shared_bn_batch', 'branch') == 'branch':
            return
        backbone = self.backbone
        if not (getattr(backbone, 'shared_bn', False) and self.shares_convs):
            raise ConfigValueError(
                "FFNRecognizer train_cfg shared_bn_batch='joint' needs a "
                'backbone with shared_bn=True and weight_sharing=True'
            )

    @property
    def shares_convs(self) -> bool:
        """Whether the backbone's branches share their convolutions."""
        return getattr(self.backbone, 'num_convs', 1) == 1

    @property
    def train_order(self) -> List[Tuple[int, int]]:
        """``(branch, frame count)`` pairs in input order, largest first."""
        counts = self.backbone.frame_counts
        return sorted(enumerate(counts), key=lambda bc: -bc[1])

    def head_scores(
        self, feats: torch.Tensor, num_segments: int
    ) -> torch.Tensor:
        """Run the shared head on ``num_segments``-frame clips.

        Args:
            feats (torch.Tensor): ``(N * num_segments, C, h, w)`` features.
            num_segments (int): Frames per clip of the consensus.

        Returns:
            torch.Tensor: ``(N, num_classes)`` logits.
        """
        head = self.cls_head
        saved = getattr(head, 'num_segments', None)
        if saved is not None:
            head.num_segments = num_segments
        try:
            return head(feats, num_segs=num_segments)
        finally:
            if saved is not None:
                head.num_segments = saved

    def branch_scores(
        self, inputs: torch.Tensor
    ) -> List[Tuple[int, torch.Tensor]]:
        """Logits of every branch on a multi-count training batch.

        Args:
            inputs (torch.Tensor): ``(N, sum(frame_counts), C, H, W)``, the
                counts largest first.

        Returns:
            list[tuple[int, torch.Tensor]]: ``(frame count, (N,
            num_classes) logits)``, largest count first.

        Raises:
            ValueError: if the frames per sample are not
                ``sum(frame_counts)``.
        """
        order = self.train_order
        total = sum(count for _, count in order)
        if inputs.dim() != 5 or inputs.shape[1] != total:
            raise ValueError(
                f'FFNRecognizer: training input must be (N, {total}, C, H, '
                f'W) for frame counts {[c for _, c in order]}, got '
                f'{tuple(inputs.shape)}'
            )
        # a tensor per branch: every clip's 16 frames, every clip's 8, ...
        parts = inputs.split([count for _, count in order], dim=1)
        xs = [part.flatten(0, 1) for part in parts]
        branches = [branch for branch, _ in order]
        split = self.train_cfg['split_stages']
        if self.train_cfg.get('shared_bn_batch') == 'joint':
            feats = run_branches(self.backbone, xs, branches, joint_norm=True)
        elif self.train_cfg['fused'] and self.shares_convs:
            feats = run_branches(self.backbone, xs, branches, split)
        else:
            feats = [self.backbone(x, branch=b) for x, b in zip(xs, branches)]
        return [
            (count, self.head_scores(part, count))
            for (_, count), part in zip(order, feats)
        ]

    def loss(
        self, inputs: torch.Tensor, data_samples: SampleList, **kwargs
    ) -> dict:
        """Cross-entropy on the largest count plus the distillation terms
        (or, with ``branch_loss='ce'``, the cross-entropy of every count).

        Args:
            inputs (torch.Tensor): See :meth:`branch_scores`.
            data_samples (list[ActionDataSample]): The labels; a
                ``frame_counts`` meta field, when packed, must match the
                backbone's counts in input order.

        Returns:
            dict: ``loss_cls``, ``top<k>_acc`` and ``loss_kl_<n>f`` (or
            ``loss_cls_<n>f``).
        """
        order = [count for _, count in self.train_order]
        packed = (
            data_samples[0].metainfo.get('frame_counts')
            if data_samples
            else None
        )
        if packed is not None and list(packed) != order:
            raise ValueError(
                f'FFNRecognizer: the samples hold frame counts '
                f'{list(packed)}, the backbone expects {order}'
            )
        (_, teacher), *students = self.branch_scores(inputs)
        losses = self.cls_head.loss_by_feat(teacher, data_samples)
        if self.branch_loss == 'distill':
            for count, student in students:
                kl = self.distill_loss(student, teacher)
                losses[f'loss_kl_{count}f'] = kl
            return losses
        for count, student in students:
            ce = self.cls_head.loss_by_feat(student, data_samples)
            losses[f'loss_cls_{count}f'] = ce['loss_cls']
        if self.ce_weights is not None:
            keys = ['loss_cls'] + [f'loss_cls_{c}f' for c, _ in students]
            for key, weight in zip(keys, self.ce_weights):
                losses[key] = weight * losses[key]
        return losses

    def test_frames(self, inputs: torch.Tensor) -> int:
        """The test-time frame count ``K`` of ``(N, views * K, ...)``."""
        frames = inputs.shape[1]
        k = self.backbone.num_segments
        return k if frames % k == 0 else frames

    def extract_feat(
        self,
        inputs: torch.Tensor,
        stage: str = 'neck',
        data_samples: Optional[SampleList] = None,
        test_mode: bool = False,
    ) -> tuple:
        """Test-time features: the branch ``K`` routes to, shift over ``K``.

        Args:
            inputs (torch.Tensor): ``(N, views * K, C, H, W)``.
            stage (str): 'backbone' or 'neck' (backbone features), or
                'head' (logits, one row per view).
            data_samples: Unused.
            test_mode (bool): Unused; the routing is always the test one.

        Returns:
            tuple[torch.Tensor, dict]: The output and ``dict(num_segs=K)``.
        """
        k = self.test_frames(inputs)
        feats = self.backbone(
            inputs.reshape((-1,) + inputs.shape[2:]), num_segments=k
        )
        if stage == 'head':
            return self.head_scores(feats, k), dict(num_segs=k)
        return feats, dict(num_segs=k)

    def predict(
        self, inputs: torch.Tensor, data_samples: SampleList, **kwargs
    ) -> SampleList:
        """Predict with the routed branch; views averaged by the head.

        Args:
            inputs (torch.Tensor): ``(N, views * K, C, H, W)``.
            data_samples (list[ActionDataSample]): One per sample.

        Returns:
            list[ActionDataSample]: With ``pred_score`` and ``pred_label``.
        """
        scores, _ = self.extract_feat(inputs, stage='head', test_mode=True)
        return self.cls_head.predict_by_feat(scores, data_samples)
