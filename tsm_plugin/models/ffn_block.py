"""The residual block of FFN: shared convs, per-branch BNs and adapters.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 4.2-4.3:
the convolutions of a block are shared by all frame counts; every
BatchNorm is private to a frame count ("specialized normalization"), and so
is a depthwise 1x1 conv applied with a residual add to the block's shifted
input ("Weight Alteration"). Used by
:class:`~tsm_plugin.models.ffn_resnet.FFNResNet`.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .temporal_shift import temporal_shift


def branch_bns(channels: int, num: int) -> nn.ModuleList:
    """``num`` BatchNorm2d of ``channels``, one per branch (or one shared)."""
    return nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(num))


class FFNDownsample(nn.Module):
    """The identity path's shared 1x1 conv and per-branch BatchNorms."""

    def __init__(
        self, inplanes: int, planes: int, stride: int, num_norms: int
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inplanes, planes, 1, stride, bias=False)
        self.bn = branch_bns(planes, num_norms)

    def forward(self, x: torch.Tensor, norm: int) -> torch.Tensor:
        return self.bn[norm](self.conv(x))


class FFNBlock(nn.Module):
    """A basic or bottleneck residual block with per-branch norms.

    Convolutions are shared; ``bn1``/``bn2``(/``bn3``) and the downsample's
    BN are lists indexed by the norm index, ``adapter`` by the branch index.

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
    ) -> None:
        super().__init__()
        self.shift = shift
        if kind == 'basic':
            out = planes
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = branch_bns(planes, num_norms)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = branch_bns(planes, num_norms)
            self.stages = (('conv1', 'bn1'), ('conv2', 'bn2'))
        else:
            out = planes * 4
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = branch_bns(planes, num_norms)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = branch_bns(planes, num_norms)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = branch_bns(out, num_norms)
            self.stages = (
                ('conv1', 'bn1'),
                ('conv2', 'bn2'),
                ('conv3', 'bn3'),
            )
        self.adapter = (
            nn.ModuleList(
                nn.Conv2d(inplanes, inplanes, 1, groups=inplanes, bias=False)
                for _ in range(num_branches)
            )
            if adapters
            else None
        )
        self.downsample = (
            FFNDownsample(inplanes, out, stride, num_norms)
            if stride != 1 or inplanes != out
            else None
        )

    def forward(
        self,
        x: torch.Tensor,
        branch: int,
        norm: int,
        segments: int,
        shift_div: int,
    ) -> torch.Tensor:
        """Run one branch.

        Args:
            x (torch.Tensor): ``(N * segments, C, H, W)`` features.
            branch (int): Adapter index.
            norm (int): BatchNorm index.
            segments (int): Frames per clip of the shift.
            shift_div (int): See :func:`temporal_shift`.
        """
        out = temporal_shift(x, segments, shift_div) if self.shift else x
        if self.adapter is not None:
            out = out + self.adapter[branch](out)
        last = len(self.stages) - 1
        for i, (conv, bns) in enumerate(self.stages):
            out = getattr(self, bns)[norm](getattr(self, conv)(out))
            if i < last:
                out = F.relu(out, inplace=True)
        identity = x if self.downsample is None else self.downsample(x, norm)
        return F.relu(out + identity, inplace=True)
