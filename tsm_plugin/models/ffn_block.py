"""The residual block of FFN: shared convs, per-branch BNs and adapters.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 4.2-4.3:
the convolutions of a block are shared by all frame counts ("Weight
Sharing"); every BatchNorm is private to a frame count ("specialized
normalization", Eq. 6), and so is a depthwise 1x1 conv applied with a
residual add to the block's shifted input ("Weight Alteration", Eq. 7-9).
The "w/o WS" ablation (Sec. 5.4, Tab. 4) gives every branch its own convs
(:class:`BranchConvs`).
A block runs one branch at a time, as the paper and the official code write
it; :mod:`~tsm_plugin.models.ffn_fused` runs every branch of a training
step in one pass. Used by :class:`~tsm_plugin.models.ffn_resnet.FFNResNet`.
"""

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from .temporal_shift import temporal_shift


class BranchBNs(nn.ModuleList):
    """One BatchNorm2d per branch, ``BN_b`` of Eq. 6; or one for all.

    Holds ``num`` BatchNorms (state-dict keys ``<name>.<i>.weight``, ...);
    :meth:`forward` runs branch ``b``'s. A list of one is shared by every
    branch (the paper's "w/o SN" ablation).

    Args:
        channels (int): Channels of each BatchNorm.
        num (int): How many: the number of branches, or 1 if shared.
    """

    def __init__(self, channels: int, num: int) -> None:
        super().__init__(nn.BatchNorm2d(channels) for _ in range(num))

    def forward(self, x: torch.Tensor, branch: int) -> torch.Tensor:
        """``x`` through branch ``branch``'s BatchNorm (the shared one if
        there is only one)."""
        return self[branch if len(self) > 1 else 0](x)


class BranchConvs(nn.ModuleList):
    """One ``nn.Conv2d`` per branch: FFN's "w/o WS" ablation (Sec. 5.4).

    State-dict keys ``<name>.<i>.weight``; :meth:`forward` runs branch
    ``b``'s conv. Built by :func:`make_conv`, which gives one shared
    ``nn.Conv2d`` (keys ``<name>.weight``) when the convs are shared.

    Args:
        num (int): How many: the number of branches.
        *args, **kwargs: ``nn.Conv2d``'s.
    """

    def __init__(self, num: int, *args, **kwargs) -> None:
        super().__init__(nn.Conv2d(*args, **kwargs) for _ in range(num))

    def forward(self, x: torch.Tensor, branch: int) -> torch.Tensor:
        """``x`` through branch ``branch``'s conv."""
        return self[branch](x)


def make_conv(num_convs: int, *args, **kwargs) -> nn.Module:
    """A conv shared by every branch (``num_convs`` 1: an ``nn.Conv2d``) or
    one per branch (a :class:`BranchConvs` of ``num_convs``)."""
    if num_convs == 1:
        return nn.Conv2d(*args, **kwargs)
    return BranchConvs(num_convs, *args, **kwargs)


def run_conv(conv: nn.Module, x: torch.Tensor, branch: int) -> torch.Tensor:
    """``x`` through a :func:`make_conv` conv: the shared one or branch
    ``branch``'s."""
    return conv(x, branch) if isinstance(conv, BranchConvs) else conv(x)


class ResidualAdapter(nn.Conv2d):
    """FFN's Weight Alteration (Eq. 7-9): ``y = s + phi(s)``.

    ``phi`` is a depthwise 1x1 conv without bias, one scalar per channel
    (weight ``(C, 1, 1, 1)``, as the official ``adaconv_*``), so ``y = (1 +
    phi) * s``: a conv ``W`` after it runs as ``W * (1 + phi)`` (Eq. 8-9).
    The residual keeps a pretrained network's function when ``phi`` starts
    at zero. A conv module, so mmaction2's ``TSMOptimWrapperConstructor``
    and the FLOP counter treat it as one.

    Args:
        channels (int): Channels of ``s``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, 1, groups=channels, bias=False)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s + super().forward(s)


class FFNDownsample(nn.Module):
    """The identity path's 1x1 conv (shared, or per branch for
    ``num_convs`` > 1) and per-branch BatchNorms."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        num_norms: int,
        num_convs: int = 1,
    ) -> None:
        super().__init__()
        self.conv = make_conv(
            num_convs, inplanes, planes, 1, stride, bias=False
        )
        self.bn = BranchBNs(planes, num_norms)

    def forward(self, x: torch.Tensor, branch: int) -> torch.Tensor:
        return self.bn(run_conv(self.conv, x, branch), branch)


class FFNBlock(nn.Module):
    """A basic or bottleneck residual block with per-branch norms.

    `Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ on TSM's
    residual ("blockres") shift: convolutions are shared (or, for
    ``num_convs`` > 1, :class:`BranchConvs`); ``bn1``, ``bn2`` (, ``bn3``)
    and the downsample's BN are :class:`BranchBNs`, ``adapter`` holds one
    :class:`ResidualAdapter` per branch.

    Args:
        kind (str): 'basic' (two 3x3 convs) or 'bottleneck' (1x1, 3x3, 1x1;
            the stride on the 3x3, torchvision's and mmaction2's style).
        inplanes (int): Input channels.
        planes (int): Width of the block (output: ``planes * expansion``).
        stride (int): Spatial stride.
        num_branches (int): Adapters to hold.
        num_norms (int): BatchNorms to hold per place (1 if shared).
        adapters (bool): Whether to hold Weight-Alteration adapters.
        shift (bool): Whether to shift the residual input in time.
        shift_div (int): ``C // shift_div`` channels shift each way.
            Defaults to 8.
        num_convs (int): Convs per place: 1 (shared, default) or the
            number of branches ("w/o WS").
    """

    def __init__(
        self,
        kind: str,
        inplanes: int,
        planes: int,
        stride: int,
        num_branches: int,
        num_norms: int,
        adapters: bool,
        shift: bool,
        shift_div: int = 8,
        num_convs: int = 1,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.shift = shift
        self.shift_div = shift_div
        conv = functools.partial(make_conv, num_convs, bias=False)
        if kind == 'basic':
            out = planes
            self.conv1 = conv(inplanes, planes, 3, stride, 1)
            self.bn1 = BranchBNs(planes, num_norms)
            self.conv2 = conv(planes, planes, 3, 1, 1)
            self.bn2 = BranchBNs(planes, num_norms)
        else:
            out = planes * 4
            self.conv1 = conv(inplanes, planes, 1)
            self.bn1 = BranchBNs(planes, num_norms)
            self.conv2 = conv(planes, planes, 3, stride, 1)
            self.bn2 = BranchBNs(planes, num_norms)
            self.conv3 = conv(planes, out, 1)
            self.bn3 = BranchBNs(out, num_norms)
        self.adapter = (
            nn.ModuleList(
                ResidualAdapter(inplanes) for _ in range(num_branches)
            )
            if adapters
            else None
        )
        self.downsample = (
            FFNDownsample(inplanes, out, stride, num_norms, num_convs)
            if stride != 1 or inplanes != out
            else None
        )

    def forward(
        self, x: torch.Tensor, branch: int, num_segments: int
    ) -> torch.Tensor:
        """Run branch ``branch`` on ``(N * num_segments, C, H, W)`` frames.

        Eq. 6-9 of the paper for one branch ``b``: the shifted input ``s``
        through the adapter, ``s + phi_b(s)``, then the convs (shared, or
        branch ``b``'s), each followed by its BN of branch ``b``.

        Args:
            x (torch.Tensor): The frames, clip by clip.
            branch (int): The branch ``b``: its BNs and adapter.
            num_segments (int): Frames per clip of the temporal shift.

        Returns:
            torch.Tensor: The block's output.
        """
        identity = x if self.downsample is None else self.downsample(x, branch)
        out = x
        if self.shift:
            out = temporal_shift(out, num_segments, self.shift_div)
        if self.adapter is not None:
            out = self.adapter[branch](out)
        out = run_conv(self.conv1, out, branch)
        out = F.relu(self.bn1(out, branch), inplace=True)
        out = self.bn2(run_conv(self.conv2, out, branch), branch)
        if self.kind == 'bottleneck':
            out = F.relu(out, inplace=True)
            out = self.bn3(run_conv(self.conv3, out, branch), branch)
        return F.relu(out + identity, inplace=True)
