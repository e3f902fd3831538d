"""The residual block of FFN: shared convs, per-branch BNs and adapters.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 4.2-4.3:
the convolutions of a block are shared by all frame counts; every
BatchNorm is private to a frame count ("specialized normalization"), and so
is a depthwise 1x1 conv applied with a residual add to the block's shifted
input ("Weight Alteration"). Used by
:class:`~tsm_plugin.models.ffn_resnet.FFNResNet`.
"""

from typing import NamedTuple, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .temporal_shift import temporal_shift_parts


class Chunk(NamedTuple):
    """Consecutive frames of a batch that one branch runs on.

    The shared convs run once on all chunks together; each chunk has its
    own BatchNorms, adapter and shift.
    """

    frames: int  # N * segments frames
    branch: int  # adapter index
    norm: int  # BatchNorm index (0 for every chunk if the BNs are shared)
    segments: int  # frames per clip of the shift


def branch_bns(channels: int, num: int) -> nn.ModuleList:
    """``num`` BatchNorm2d of ``channels``, one per branch (or one shared)."""
    return nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(num))


def chunked_norm(
    bns: nn.ModuleList, x: torch.Tensor, chunks: Sequence[Chunk]
) -> torch.Tensor:
    """Each chunk of ``x`` through its own BatchNorm (statistics per chunk).

    Args:
        bns (nn.ModuleList): The BatchNorms, indexed by ``Chunk.norm``.
        x (torch.Tensor): ``(sum(frames), C, H, W)``, the chunks in order.
        chunks (Sequence[Chunk]): The chunks.

    Returns:
        torch.Tensor: The normalized frames, chunks in the same order.
    """
    if len(chunks) == 1:
        return bns[chunks[0].norm](x)
    # split, not slices: its backward is one cat, where each slice's
    # would be a zero-filled full-size gradient
    parts = x.split([c.frames for c in chunks])
    outs = [bns[c.norm](part) for c, part in zip(chunks, parts)]
    return torch.cat(outs)


class ResidualAdapter(nn.Conv2d):
    """FFN's Weight Alteration (Eq. 7-9): ``y = s + w * s``, per channel.

    Held as the paper's depthwise 1x1 conv without bias (the official
    ``adaconv_*`` tensors load as they are, and mmaction2's
    ``TSMOptimWrapperConstructor`` sees a conv), computed as
    ``s * (1 + w)``: the same function and gradients, one elementwise op
    instead of a conv and an add; or folded into the conv that follows
    (:meth:`fold`), no op at all.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, 1, groups=channels, bias=False)

    def scale(self) -> torch.Tensor:
        """``1 + w`` as ``(1, C, 1, 1)``."""
        return 1 + self.weight.view(1, -1, 1, 1)

    def fold(self, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        """``conv(self(x))`` as one conv: a conv of ``s * (1 + w)`` is the
        conv of ``s`` with its weight's input channels scaled by ``1 + w``
        (zero padding stays zero), which spares a pass over ``s`` forward
        and two backward."""
        return conv._conv_forward(x, conv.weight * self.scale(), conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale()


class FFNDownsample(nn.Module):
    """The identity path's shared 1x1 conv and per-branch BatchNorms."""

    def __init__(
        self, inplanes: int, planes: int, stride: int, num_norms: int
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inplanes, planes, 1, stride, bias=False)
        self.bn = branch_bns(planes, num_norms)

    def forward(
        self, x: torch.Tensor, chunks: Sequence[Chunk]
    ) -> torch.Tensor:
        return chunked_norm(self.bn, self.conv(x), chunks)


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
                ResidualAdapter(inplanes) for _ in range(num_branches)
            )
            if adapters
            else None
        )
        self.downsample = (
            FFNDownsample(inplanes, out, stride, num_norms)
            if stride != 1 or inplanes != out
            else None
        )

    def adapt(self, x: torch.Tensor, chunks: Sequence[Chunk]) -> torch.Tensor:
        """Each chunk through its branch's adapter (one multiply for all)."""
        if len(chunks) == 1:
            return self.adapter[chunks[0].branch](x)
        scale = torch.cat(
            [
                self.adapter[c.branch].scale().expand(c.frames, -1, -1, -1)
                for c in chunks
            ]
        )
        return x * scale

    def forward(
        self, x: torch.Tensor, chunks: Sequence[Chunk], shift_div: int
    ) -> torch.Tensor:
        """Run the chunks' branches, the convs once for all.

        One chunk (one branch) folds its adapter into ``conv1``
        (:meth:`ResidualAdapter.fold`); several multiply by their adapters'
        scales at once, ahead of the shared ``conv1``, and so does one chunk
        under a tracer, whose FLOP and parameter counts go by the modules
        called.

        Args:
            x (torch.Tensor): ``(sum(frames), C, H, W)`` features, the
                chunks in order.
            chunks (Sequence[Chunk]): Which branch runs on which frames.
            shift_div (int): See :func:`temporal_shift_parts`.
        """
        out = x
        if self.shift:
            parts = tuple((c.frames, c.segments) for c in chunks)
            out = temporal_shift_parts(x, parts, shift_div)
        for i, (conv_name, bns_name) in enumerate(self.stages):
            conv = getattr(self, conv_name)
            if i or self.adapter is None:
                out = conv(out)
            elif len(chunks) == 1 and not torch.jit.is_tracing():
                out = self.adapter[chunks[0].branch].fold(conv, out)
            else:
                out = conv(self.adapt(out, chunks))
            out = chunked_norm(getattr(self, bns_name), out, chunks)
            if i < len(self.stages) - 1:
                out = F.relu(out, inplace=True)
        identity = x if self.downsample is None else self.downsample(x, chunks)
        return F.relu(out + identity, inplace=True)
