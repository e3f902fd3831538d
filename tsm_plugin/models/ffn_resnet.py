"""FFN backbone: a TSM-ResNet whose BatchNorms and adapters are per branch.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (FFN, CVPR
2023) trains one TSM (https://arxiv.org/abs/1811.08383) at several frame
counts at once (4, 8 and 16 frames: the L, M and H branches). The branches
share every convolution ("Weight Sharing", Sec. 4.2); each has its own
BatchNorms ("specialized normalization", Eq. 6) and, at the input of every
residual block after the temporal shift, its own depthwise 1x1 conv with a
residual add, ``y = s + adapter(s)`` ("Weight Alteration", Eq. 7-9).

The "w/o WS" ablation (Sec. 5.4, Tab. 4) gives each branch its own convs
(``weight_sharing=False``).

At test time a clip of ``K`` frames runs the branch whose frame count is
nearest to ``K``, ties to the larger count (:func:`nearest_branch`), with
the shift over ``K`` frames. The training step's pass over every branch at
once is :mod:`~tsm_plugin.models.ffn_fused`'s.
"""

import re
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule

from ..errors import ConfigValueError
from ..utils.config import check_frame_counts
from .ffn_block import BranchBNs, FFNBlock, make_conv, run_conv
from .frame_counts import NumSegments, nearest_branch
from .pretrained import load_pretrained

# depth -> (block kind, blocks per stage)
ARCH_SETTINGS = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', (3, 8, 36, 3)),
}
TRAIN_SHIFTS = ('branch', 'official')
ADAPTER_INITS = ('zeros', 'official', 'as_written')
# a private conv's key -> the shared conv's: ``layer1.0.conv1.2.weight`` ->
# ``layer1.0.conv1.weight``, ``conv1.0.weight`` -> ``conv1.weight``
_BRANCH_CONV = re.compile(r'((?:^|\.)conv\d?)\.\d+\.')


def shared_conv_key(key: str) -> str:
    """The weight-sharing network's name of a state-dict key: a private
    conv's branch index dropped, any other key unchanged."""
    return _BRANCH_CONV.sub(r'\1.', key)


def _check_args(
    depth: int, shift_div: int, train_shift: str, adapter_init: str
) -> None:
    """Raise :class:`ConfigValueError` on a bad :class:`FFNResNet` value."""
    if depth not in ARCH_SETTINGS:
        raise ConfigValueError(
            f'FFNResNet depth must be one of '
            f'{sorted(ARCH_SETTINGS)}, got {depth!r}'
        )
    for name, value, allowed in (
        ('train_shift', train_shift, TRAIN_SHIFTS),
        ('adapter_init', adapter_init, ADAPTER_INITS),
    ):
        if value not in allowed:
            raise ConfigValueError(
                f'FFNResNet {name} must be one of {allowed}, got {value!r}'
            )
    if (
        isinstance(shift_div, bool)
        or not isinstance(shift_div, int)
        or shift_div < 1
    ):
        raise ConfigValueError(
            f'shift_div must be an integer >= 1, got {shift_div!r}'
        )


@MODELS.register_module()
class FFNResNet(NumSegments, BaseModule):
    """TSM-ResNet with shared convolutions and per-frame-count norms.

    `Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ on the
    "blockres" TSM-ResNet of :class:`~tsm_plugin.models.tsm_resnet.
    TSMResNet`: every block shifts its residual input (a network whose third
    stage has >= 23 blocks, ResNet-101/152, every other block, as TSM and
    TSMResNet do; the official FFN code shifts every block), then applies
    the branch's adapter, then the shared convs with the branch's BNs
    (:class:`~tsm_plugin.models.ffn_block.FFNBlock`). The stem conv is
    registered first, so mmaction2's ``TSMOptimWrapperConstructor`` treats
    it as the first conv.

    ``num_segments`` is the test-time frame count ``K`` (what the TFD sweep
    sets on every module that has one): a forward without arguments runs
    branch :func:`nearest_branch` (``K``) with the shift over ``K`` frames.

    Args:
        depth (int): 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        frame_counts (Sequence[int]): The branches' frame counts; branch
            ``i`` trains on ``frame_counts[i]`` frames. Defaults to
            (4, 8, 16), the paper's L/M/H.
        num_segments (int, optional): Test-time frame count ``K``. Defaults
            to ``max(frame_counts)``, the count FFN validates at.
        shift_div (int): ``C // shift_div`` channels shift each way.
            Defaults to 8.
        train_shift (str): Frames per clip of the shift in training mode.
            'branch' (default, the paper's form): each branch shifts over
            its own frame count. 'official': every branch shifts over
            ``max(frame_counts)`` frames, as the official code does
            (BeSpontaneous/FFN-pytorch#3, "an unintentional mistake"): the
            4- and 8-frame batches are then viewed as 16-frame sequences, so
            neighbouring clips leak into each other and the clips per batch
            times each count must be divisible by the largest count.
        adapter_init (str): Initial adapter weights. 'zeros' (default): the
            adapters start as exact identities, so every branch starts
            exactly as the single-branch network it is loaded from (ImageNet
            or a trained TSM). 'official': Kaiming normal, fan_out (std
            ``sqrt(2 / C)``), what the official code effectively runs
            because its global conv init overwrites the written one.
            'as_written': N(0, 1e-3), the init the official code writes.
        shared_bn (bool): One set of BatchNorms for all branches (the
            paper's "w/o SN" ablation). Defaults to False.
        adapters (bool): Hold the Weight-Alteration adapters (False: "w/o
            WA"). Defaults to True.
        weight_sharing (bool): One set of convolutions for all branches
            (default, Eq. 2). False is the paper's "w/o WS" ablation: every
            conv (stem, blocks, downsample) private to its branch
            (:class:`~tsm_plugin.models.ffn_block.BranchConvs`, keys
            ``layer1.0.conv1.<b>.weight``), ``len(frame_counts)`` times the
            conv parameters. The paper does not say what else changes; only
            the convs do here: the recognizer's head stays shared, adapters
            and distillation are as configured. The one-pass training step
            needs shared convs; the recognizer then runs branch by branch.
        pretrained (str, optional): A local ``.pth`` or
            ``'torchvision://resnet50'``, read by
            :func:`~tsm_plugin.models.pretrained.load_pretrained`: a
            single network (torchvision's ResNet, a TSM) loads its convs
            into the shared convs and every BN into all branches (the
            official code's ImageNet start); an FFN loads branch by branch.
            Without weight sharing each loaded conv is copied into every
            branch's. Defaults to None.
        norm_eval (bool): Keep every BatchNorm in eval mode during training
            (frozen running statistics). Defaults to False.
    """

    def __init__(
        self,
        depth: int,
        frame_counts: Sequence[int] = (4, 8, 16),
        num_segments: Optional[int] = None,
        shift_div: int = 8,
        train_shift: str = 'branch',
        adapter_init: str = 'zeros',
        shared_bn: bool = False,
        adapters: bool = True,
        pretrained: Optional[str] = None,
        norm_eval: bool = False,
        weight_sharing: bool = True,
    ) -> None:
        super().__init__()
        _check_args(depth, shift_div, train_shift, adapter_init)
        self.depth = depth
        self.frame_counts = check_frame_counts(frame_counts)
        self.shift_div = shift_div
        self.train_shift = train_shift
        self.adapter_init = adapter_init
        self.shared_bn = shared_bn
        self.adapters = adapters
        self.weight_sharing = weight_sharing
        self.pretrained = pretrained
        self.norm_eval = norm_eval
        # BatchNorms per place: one per branch, or one shared
        self.num_norms = 1 if shared_bn else len(self.frame_counts)
        # convolutions per place: one shared, or one per branch
        self.num_convs = 1 if weight_sharing else len(self.frame_counts)

        kind, stage_blocks = ARCH_SETTINGS[depth]
        # the stem conv first: the optimizer constructor's "first conv"
        self.conv1 = make_conv(self.num_convs, 3, 64, 7, 2, 3, bias=False)
        self.bn1 = BranchBNs(64, self.num_norms)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.res_layers = []
        inplanes = 64
        for stage, blocks in enumerate(stage_blocks):
            name = f'layer{stage + 1}'
            self.add_module(name, self._make_layer(inplanes, stage, blocks))
            self.res_layers.append(name)
            inplanes = 64 * 2**stage * (1 if kind == 'basic' else 4)
        self.feat_dim = inplanes
        self.num_segments = (
            max(self.frame_counts) if num_segments is None else num_segments
        )

    def _make_layer(
        self, inplanes: int, stage: int, blocks: int
    ) -> nn.ModuleList:
        """The blocks of residual stage ``stage`` (0-3), ``64 * 2**stage``
        wide, on ``inplanes`` channels. ResNet-101/152 shift every other
        block only, as TSM."""
        kind, stage_blocks = ARCH_SETTINGS[self.depth]
        every = 2 if stage_blocks[2] >= 23 else 1
        planes = 64 * 2**stage
        out = planes * (1 if kind == 'basic' else 4)
        return nn.ModuleList(
            FFNBlock(
                kind,
                out if i else inplanes,
                planes,
                stride=2 if stage and not i else 1,
                num_branches=len(self.frame_counts),
                num_norms=self.num_norms,
                adapters=self.adapters,
                shift=i % every == 0,
                shift_div=self.shift_div,
                num_convs=self.num_convs,
            )
            for i in range(blocks)
        )

    @property
    def test_branch(self) -> int:
        """The branch index that ``num_segments`` routes to."""
        return nearest_branch(self._num_segments, self.frame_counts)

    def forward(
        self,
        x: torch.Tensor,
        branch: Optional[int] = None,
        num_segments: Optional[int] = None,
    ) -> torch.Tensor:
        """Run one branch on ``(N * T, C, H, W)`` frames, clip by clip.

        The stem, then every block (:meth:`FFNBlock.forward`), with the
        branch's BNs and adapters and the shift over ``T`` frames per clip.

        Args:
            x (torch.Tensor): The frames.
            branch (int, optional): Branch index into ``frame_counts``.
                Defaults to the branch ``num_segments`` routes to.
            num_segments (int, optional): ``T``, frames per clip. Defaults
                to ``frame_counts[branch]`` when ``branch`` is given, else
                to the ``num_segments`` attribute. In training mode with
                ``train_shift='official'`` the shift runs over
                ``max(frame_counts)`` frames whatever ``T`` is.

        Returns:
            torch.Tensor: The last stage's features, ``(N * T, C', h, w)``.

        Raises:
            ValueError: if the frames do not split into clips of the shift's
                length, or ``branch`` is out of range.
        """
        if branch is None:
            if num_segments is None:
                num_segments = self._num_segments
            branch = nearest_branch(num_segments, self.frame_counts)
        elif not 0 <= branch < len(self.frame_counts):
            raise ValueError(
                f'FFNResNet: branch {branch} out of range for '
                f'frame_counts {self.frame_counts}'
            )
        elif num_segments is None:
            num_segments = self.frame_counts[branch]
        segments = self.shift_segments(int(x.shape[0]), num_segments)
        x = self.stem(x, branch)
        for name in self.res_layers:
            for block in getattr(self, name):
                x = block(x, branch, segments)
        return x

    def stem(self, x: torch.Tensor, branch: int) -> torch.Tensor:
        """``conv1``, branch ``branch``'s ``bn1``, ReLU and max pooling."""
        x = run_conv(self.conv1, x, branch)
        x = F.relu(self.bn1(x, branch), inplace=True)
        return self.maxpool(x)

    def shift_segments(self, frames: int, num_segments: int) -> int:
        """Frames per clip of the shift of a batch of ``frames`` frames,
        ``num_segments`` per clip: ``num_segments``, but in training mode
        with ``train_shift='official'`` ``max(frame_counts)``.

        Raises:
            ValueError: if ``frames`` do not split into such clips.
        """
        segments = num_segments
        if self.training and self.train_shift == 'official':
            segments = max(self.frame_counts)
        if frames % segments:
            raise ValueError(
                f'FFNResNet: the batch of {frames} frames is not '
                f"divisible by the shift's {segments} frames per clip"
            )
        return segments

    def train(self, mode: bool = True) -> 'FFNResNet':
        """Set train/eval mode; ``norm_eval`` keeps every BN in eval."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def init_weights(self) -> None:
        """Scratch init, adapters by ``adapter_init``, then ``pretrained``.

        Scratch init as mmaction2's ResNet: Kaiming normal (fan_out) convs,
        BN weight 1 and bias 0.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu'
                )
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for name in self.res_layers:
            for block in getattr(self, name):
                for adapter in block.adapter or ():
                    self._init_adapter(adapter.weight)
        if self.pretrained and self.weight_sharing:
            load_pretrained(self, self.pretrained)
        elif self.pretrained:
            self._load_pretrained_unshared()
        self._is_init = True

    @torch.no_grad()
    def _load_pretrained_unshared(self) -> None:
        """``pretrained`` into private convs: loaded into a weight-sharing
        twin (:func:`load_pretrained`), then each tensor the file filled is
        copied into this network, a conv into every branch's."""
        twin = FFNResNet(
            self.depth,
            self.frame_counts,
            shift_div=self.shift_div,
            shared_bn=self.shared_bn,
            adapters=self.adapters,
        )
        own = self.state_dict()
        before = {shared_conv_key(k): v.clone() for k, v in own.items()}
        twin.load_state_dict(before)
        load_pretrained(twin, self.pretrained)
        after = twin.state_dict()
        filled = {
            key: after[shared_conv_key(key)]
            for key in own
            if not torch.equal(
                after[shared_conv_key(key)], before[shared_conv_key(key)]
            )
        }
        self.load_state_dict(filled, strict=False)

    @torch.no_grad()
    def _init_adapter(self, weight: torch.Tensor) -> None:
        if self.adapter_init == 'zeros':
            weight.zero_()
        elif self.adapter_init == 'as_written':
            weight.normal_(0, 1e-3)
        else:
            nn.init.kaiming_normal_(
                weight, mode='fan_out', nonlinearity='relu'
            )
