"""FFN's training step, every branch in one pass: the fast path.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ trains each
clip at every frame count (16 | 8 | 4 frames). :func:`run_branches` gives
each branch's features as :meth:`~tsm_plugin.models.ffn_resnet.FFNResNet.
forward` run once per branch would (tests/models/test_ffn_fused.py: values,
gradients, BN statistics), reading the backbone's modules, faster:

* the stem and the first ``split_stages`` residual stages run branch by
  branch: their feature maps are the largest, one branch's frames already
  make large GEMMs, and each block's adapter, a per-channel scale ``1 + w``
  of the shifted input (Eq. 7-9), folds into the weight of the conv after
  it (:func:`folded_conv`), so it costs no pass over the activations;
* the later stages run all the branches' frames at once: on their small
  maps one large GEMM beats several small ones. Each branch's frames (a
  :class:`Chunk`) keep their own BatchNorms (statistics per chunk), their
  own shift (one multi-part :func:`temporal_shift_parts`) and their own
  adapter (one multiply by each chunk's ``1 + w``).

Which ``split_stages`` is fastest depends on the device and the frame size
(``FFNRecognizer(train_cfg=dict(split_stages=...))``; docs/ffn.md, the
training step and its cost).

With ``joint_norm`` (a shared-BN backbone, the "w/o SN" ablation) every
frame of every branch runs at once, the stem included, and each BatchNorm
normalizes them all with one set of batch statistics (one running-statistics
update per step) instead of each branch's own. The backbone's convs must be
shared (``weight_sharing=True``).
"""

from typing import List, NamedTuple, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ffn_block import BranchBNs, FFNBlock
from .temporal_shift import temporal_shift_parts


class Chunk(NamedTuple):
    """Consecutive frames of a batch that one branch runs on."""

    frames: int  # N * num_segments frames
    branch: int  # BN and adapter index
    segments: int  # frames per clip of the shift


def chunk(backbone: nn.Module, branch: int, frames: int) -> Chunk:
    """The :class:`Chunk` of ``frames`` frames of branch ``branch``'s clips.

    Its clips have ``frame_counts[branch]`` frames; the shift's length is
    that, or ``max(frame_counts)`` in training under
    ``train_shift='official'`` (:meth:`FFNResNet.shift_segments`).

    Raises:
        ValueError: if the frames do not split into clips of the shift's
            length.
    """
    count = backbone.frame_counts[branch]
    return Chunk(frames, branch, backbone.shift_segments(frames, count))


def run_branches(
    backbone: nn.Module,
    xs: Sequence[torch.Tensor],
    branches: Sequence[int],
    split_stages: int = 3,
    joint_norm: bool = False,
) -> Tuple[torch.Tensor, ...]:
    """Every branch of an FFN backbone on its own frames, in one pass.

    Equal to ``tuple(backbone(x, branch=b) for x, b in zip(xs,
    branches))``, up to float rounding (not with ``joint_norm``).

    Args:
        backbone (FFNResNet): The backbone whose modules run.
        xs (Sequence[torch.Tensor]): Each branch's ``(N * T_b, C, H, W)``
            frames, ``T_b = frame_counts[b]``.
        branches (Sequence[int]): The branch of each tensor.
        split_stages (int): How many residual stages (0-4) run branch by
            branch after the stem; the rest run all the frames at once.
            Defaults to 3.
        joint_norm (bool): One BatchNorm call over all the branches'
            frames (needs a shared-BN backbone); ``split_stages`` is then
            ignored. Defaults to False.

    Returns:
        tuple[torch.Tensor]: The last stage's features, one per branch.

    Raises:
        ValueError: the backbone's convs are not shared, or
            ``joint_norm`` without shared BatchNorms.
    """
    if getattr(backbone, 'num_convs', 1) != 1:
        raise ValueError(
            'run_branches needs shared convolutions (weight_sharing=True)'
        )
    if joint_norm and getattr(backbone, 'num_norms', 1) != 1:
        raise ValueError('run_branches joint_norm needs shared_bn=True')
    chunks = [
        chunk(backbone, b, int(x.shape[0]))
        for x, b in zip(xs, branches, strict=True)
    ]
    if joint_norm:
        x = backbone.stem(torch.cat(xs), 0)
        for block in _blocks(backbone, backbone.res_layers):
            x = fused_block(block, x, chunks, joint_norm=True)
        return x.split([c.frames for c in chunks])
    split = _blocks(backbone, backbone.res_layers[:split_stages])
    joint = _blocks(backbone, backbone.res_layers[split_stages:])
    feats = []
    for x, c in zip(xs, chunks):
        x = backbone.stem(x, c.branch)
        for block in split:
            x = fused_block(block, x, (c,))
        feats.append(x)
    if not joint:
        return tuple(feats)
    x = feats[0] if len(feats) == 1 else torch.cat(feats)
    for block in joint:
        x = fused_block(block, x, chunks)
    return x.split([c.frames for c in chunks])


def _blocks(backbone: nn.Module, names: Sequence[str]) -> List[FFNBlock]:
    return [block for name in names for block in getattr(backbone, name)]


def fused_block(
    block: FFNBlock,
    x: torch.Tensor,
    chunks: Sequence[Chunk],
    joint_norm: bool = False,
) -> torch.Tensor:
    """:meth:`FFNBlock.forward` of each chunk's branch, the convs once.

    Line by line the per-branch forward, with each BN and the shift run
    chunk by chunk, and the adapter in the first conv (:func:`adapted_conv`).

    Args:
        block (FFNBlock): The block whose modules run.
        x (torch.Tensor): ``(sum(frames), C, H, W)``, the chunks in order.
        chunks (Sequence[Chunk]): Which branch runs on which frames.
        joint_norm (bool): Each BN over all the chunks at once (a shared
            BN). Defaults to False.

    Returns:
        torch.Tensor: The block's output, the chunks in the same order.
    """

    def norm(bns: BranchBNs, y: torch.Tensor) -> torch.Tensor:
        return chunked_norm(bns, y, chunks[:1] if joint_norm else chunks)

    identity = x
    if block.downsample is not None:
        conv, bns = block.downsample.conv, block.downsample.bn
        identity = norm(bns, conv(x))
    out = x
    if block.shift:
        parts = [(c.frames, c.segments) for c in chunks]
        out = temporal_shift_parts(out, parts, block.shift_div)
    out = adapted_conv(block, out, chunks)
    out = F.relu(norm(block.bn1, out), inplace=True)
    out = norm(block.bn2, block.conv2(out))
    if block.kind == 'bottleneck':
        out = F.relu(out, inplace=True)
        out = norm(block.bn3, block.conv3(out))
    return F.relu(out + identity, inplace=True)


def adapted_conv(
    block: FFNBlock, s: torch.Tensor, chunks: Sequence[Chunk]
) -> torch.Tensor:
    """``conv1`` of each chunk's adapter of the shifted input ``s``.

    One chunk folds its adapter into ``conv1`` (:func:`folded_conv`);
    several multiply by their adapters' ``1 + w`` at once.
    """
    if block.adapter is None:
        return block.conv1(s)
    if len(chunks) == 1:
        adapter = block.adapter[chunks[0].branch]
        return folded_conv(block.conv1, adapter, s)
    return block.conv1(s * adapter_scales(block.adapter, chunks))


def folded_conv(
    conv: nn.Conv2d, adapter: nn.Conv2d, s: torch.Tensor
) -> torch.Tensor:
    """``conv(adapter(s))`` as one conv of ``s``.

    The adapter is ``s * (1 + w)`` per input channel (Eq. 7-9), and a conv
    of that is the conv of ``s`` with its weight's input channels scaled by
    ``1 + w`` (zero padding stays zero): no pass over ``s`` forward and two
    fewer backward.
    """
    weight = conv.weight * (1 + adapter.weight.view(1, -1, 1, 1))
    return F.conv2d(
        s,
        weight,
        conv.bias,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
    )


def adapter_scales(
    adapters: nn.ModuleList, chunks: Sequence[Chunk]
) -> torch.Tensor:
    """Each chunk's ``1 + w`` (its branch's adapter), one row per frame:
    ``(sum(frames), C, 1, 1)``."""
    scales = []
    for c in chunks:
        scale = 1 + adapters[c.branch].weight.view(1, -1, 1, 1)
        scales.append(scale.expand(c.frames, -1, -1, -1))
    return torch.cat(scales)


def chunked_norm(
    bns: BranchBNs, x: torch.Tensor, chunks: Sequence[Chunk]
) -> torch.Tensor:
    """Each chunk of ``x`` through its branch's BatchNorm (statistics per
    chunk, as each branch alone).

    Args:
        bns (BranchBNs): The BatchNorms.
        x (torch.Tensor): ``(sum(frames), C, H, W)``, the chunks in order.
        chunks (Sequence[Chunk]): The chunks.

    Returns:
        torch.Tensor: The normalized frames, chunks in the same order.
    """
    if len(chunks) == 1:
        return bns(x, chunks[0].branch)
    # split, not slices: its backward is one cat, where each slice's
    # would be a zero-filled full-size gradient
    parts = x.split([c.frames for c in chunks])
    return torch.cat([bns(p, c.branch) for p, c in zip(parts, chunks)])
