"""The temporal shift of TSM, in plain torch (no registry, no mmaction).

`TSM: Temporal Shift Module for Efficient Video Understanding
<https://arxiv.org/abs/1811.08383>`_ mixes information across the frames of
a clip at zero FLOPs: a fraction of the channels of every frame's feature map
is replaced by the same channels of the next frame, and as many by those of
the previous frame. This is the residual ("blockres") variant of the
authors' ``ops/temporal_shift.py``
(https://github.com/mit-han-lab/temporal-shift-module): out of place, so the
residual branch of a ResNet block still sees the unshifted feature.

With ``fold = C // shift_div`` and frames ``t = 0 .. T-1`` of each clip:

* channels ``[0, fold)`` take their value from frame ``t + 1``,
* channels ``[fold, 2 * fold)`` from frame ``t - 1``,
* the other channels are unchanged,

and a channel whose source frame lies outside the clip is zero.

The op is an :class:`torch.autograd.Function` whose backward is the same
shift in the opposite direction (the shift is linear and its adjoint swaps
the two directions), so autograd records one node instead of a chain of
slice copies, and double backward works. The output is written once into a
tensor allocated like the input, which keeps its memory format
(``torch.channels_last`` stays ``channels_last``).
"""

from typing import Tuple

import torch
import torch.nn as nn

# consecutive (frames, frames per clip) chunks of a batch of frames
Parts = Tuple[Tuple[int, int], ...]


def _check(x: torch.Tensor, parts: Parts, shift_div: int) -> int:
    """Validate the arguments; return ``fold``."""
    if x.dim() != 4:
        raise ValueError(
            'temporal_shift expects a (N*T, C, H, W) tensor, '
            f'got shape {tuple(x.shape)}'
        )
    if shift_div < 1:
        raise ValueError(f'shift_div must be >= 1, got {shift_div}')
    if sum(frames for frames, _ in parts) != x.shape[0]:
        raise ValueError(
            f'temporal_shift_parts: the parts {parts} do not cover the '
            f'{x.shape[0]} frames'
        )
    for frames, num_segments in parts:
        if num_segments < 1:
            raise ValueError(f'num_segments must be >= 1, got {num_segments}')
        if frames % num_segments:
            raise ValueError(
                f'temporal_shift: the batch of {frames} frames is not '
                f'divisible by num_segments={num_segments} (frames per clip)'
            )
    # int(): under torch.jit.trace a size is a tensor, which Function.apply
    # cannot take as a plain argument (FLOP counting traces the model).
    return int(x.shape[1]) // shift_div


def _shift(
    x: torch.Tensor, parts: Parts, fold: int, reverse: bool
) -> torch.Tensor:
    """Shift without autograd; ``reverse`` swaps the two directions.

    ``parts`` are consecutive ``(frames, num_segments)`` chunks of ``x``
    along dim 0, each shifted within its own clips into one output.
    """
    out = torch.empty_like(x)  # keeps x's memory format
    from_next, from_prev = slice(0, fold), slice(fold, 2 * fold)
    if reverse:
        from_next, from_prev = from_prev, from_next
    start = 0
    for frames, num_segments in parts:
        shape = (frames // num_segments, num_segments, *x.shape[1:])
        src = x[start : start + frames].view(shape)
        dst = out[start : start + frames].view(shape)
        start += frames
        dst[:, :-1, from_next] = src[:, 1:, from_next]
        dst[:, -1, from_next] = 0
        dst[:, 1:, from_prev] = src[:, :-1, from_prev]
        dst[:, 0, from_prev] = 0
        dst[:, :, 2 * fold :] = src[:, :, 2 * fold :]
    return out


class _TemporalShiftFunction(torch.autograd.Function):
    """Autograd node of :func:`temporal_shift`: backward shifts back."""

    @staticmethod
    def forward(ctx, x, parts, fold, reverse):
        ctx.shift_args = (parts, fold, not reverse)
        return _shift(x, parts, fold, reverse)

    @staticmethod
    def backward(ctx, grad_out):
        grad_in = _TemporalShiftFunction.apply(grad_out, *ctx.shift_args)
        return grad_in, None, None, None


def temporal_shift(
    x: torch.Tensor, num_segments: int, shift_div: int = 8
) -> torch.Tensor:
    """Shift 1/``shift_div`` of the channels one frame each way.

    Args:
        x (torch.Tensor): Frame features of shape ``(N * T, C, H, W)``, the
            ``T`` frames of each clip consecutive (mmaction2's Recognizer2D
            layout). Any memory format.
        num_segments (int): Frames per clip, ``T``.
        shift_div (int): ``C // shift_div`` channels come from the next
            frame and as many from the previous one. Defaults to 8.

    Returns:
        torch.Tensor: A new tensor, shape, dtype and memory format of ``x``.

    Raises:
        ValueError: if ``N * T`` is not divisible by ``num_segments``.
    """
    return temporal_shift_parts(x, ((x.shape[0], num_segments),), shift_div)


def temporal_shift_parts(
    x: torch.Tensor, parts: Parts, shift_div: int = 8
) -> torch.Tensor:
    """:func:`temporal_shift` of consecutive chunks with their own clips.

    FFN (https://arxiv.org/abs/2303.14817) runs its 16-, 8- and 4-frame
    branches through the shared convs as one batch; each branch's frames
    shift within that branch's clips. One output, one autograd node.

    Args:
        x (torch.Tensor): ``(sum(frames), C, H, W)``, the chunks in order.
        parts (tuple[tuple[int, int]]): ``(frames, num_segments)`` per chunk:
            ``frames`` consecutive frames of clips of ``num_segments``.
        shift_div (int): See :func:`temporal_shift`. Defaults to 8.

    Returns:
        torch.Tensor: A new tensor, shape, dtype and memory format of ``x``.

    Raises:
        ValueError: if a chunk does not split into its clips, or the chunks
            do not cover ``x``.
    """
    parts = tuple((int(f), int(t)) for f, t in parts)
    fold = _check(x, parts, shift_div)
    return _TemporalShiftFunction.apply(x, parts, fold, False)


class TemporalShift(nn.Module):
    """Shift the input in time, then run the wrapped module.

    Wrapping a block's first conv as ``conv1.conv = TemporalShift(conv)``
    gives the parameter names of mmaction2's ``ResNetTSM``
    (``layer1.0.conv1.conv.net.weight``), so its checkpoints load unchanged.

    Args:
        net (nn.Module): The module to run on the shifted input.
        num_segments (int): Frames per clip. Defaults to 8.
        shift_div (int): See :func:`temporal_shift`. Defaults to 8.
    """

    def __init__(
        self, net: nn.Module, num_segments: int = 8, shift_div: int = 8
    ) -> None:
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shift ``x`` (``(N * T, C, H, W)``) and apply ``net``."""
        return self.net(temporal_shift(x, self.num_segments, self.shift_div))

    def extra_repr(self) -> str:
        return f'num_segments={self.num_segments}, shift_div={self.shift_div}'
