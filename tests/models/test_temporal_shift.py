"""The temporal shift op against a naive loop and mmaction2's own shift."""

import pytest
import torch
from mmaction.models.backbones.resnet_tsm import TemporalShift as StockShift
from torch import nn

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tsm_plugin.models.temporal_shift import (
    TemporalShift,
    temporal_shift,
    temporal_shift_parts,
)


def naive_shift(x, num_segments, shift_div):
    """TSM's definition, one frame and one channel at a time."""
    frames, channels = x.shape[:2]
    fold = channels // shift_div
    out = torch.zeros_like(x)
    for clip in range(frames // num_segments):
        for t in range(num_segments):
            for c in range(channels):
                src = t + 1 if c < fold else t - 1 if c < 2 * fold else t
                if 0 <= src < num_segments:
                    out[clip * num_segments + t, c] = x[
                        clip * num_segments + src, c
                    ]
    return out


@pytest.mark.parametrize(
    'memory_format', [torch.contiguous_format, torch.channels_last]
)
@pytest.mark.parametrize(
    'num_segments,channels,shift_div',
    [
        (4, 16, 8),  # fold 2
        (3, 20, 8),  # C not a multiple of shift_div: fold 2, 16 unchanged
        (5, 12, 4),  # fold 3
        (1, 16, 8),  # one frame: shifted channels are all zero
    ],
)
def test_shift_equals_naive_loop(
    memory_format, num_segments, channels, shift_div
):
    torch.manual_seed(0)
    x = torch.randn(2 * num_segments, channels, 3, 5).contiguous(
        memory_format=memory_format
    )
    out = temporal_shift(x, num_segments, shift_div)
    assert torch.equal(out, naive_shift(x, num_segments, shift_div))
    assert out.is_contiguous(memory_format=memory_format)
    if memory_format is torch.channels_last:
        assert not out.is_contiguous()  # really kept, not just ambiguous


def test_shift_moves_known_values():
    # frame t holds the value t everywhere: channel 0 sees t+1, channel 1
    # sees t-1, channels 2.. see t; zeros where the source is off the clip.
    x = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 8, 1, 1).contiguous()
    out = temporal_shift(x, num_segments=3, shift_div=8)[:, :3, 0, 0]
    assert out.tolist() == [[1, 0, 0], [2, 0, 1], [0, 1, 2]]


def test_shift_equals_mmaction2_shift():
    torch.manual_seed(0)
    x = torch.randn(16, 64, 7, 7)
    assert torch.equal(temporal_shift(x, 8, 8), StockShift.shift(x, 8, 8))


def test_gradcheck_float64():
    x = torch.randn(6, 8, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: temporal_shift(t, 3, 4), (x,))
    assert torch.autograd.gradgradcheck(
        lambda t: temporal_shift(t, 3, 4), (x,)
    )


def test_backward_is_the_reverse_shift():
    torch.manual_seed(0)
    x = torch.randn(8, 16, 2, 2, requires_grad=True)
    g = torch.randn(8, 16, 2, 2)
    temporal_shift(x, 4).backward(g)
    y = x.detach().requires_grad_()
    naive_shift(y, 4, 8).backward(g)
    assert torch.equal(x.grad, y.grad)


def test_indivisible_batch_names_both_numbers():
    with pytest.raises(ValueError, match=r'10 frames .* num_segments=4'):
        temporal_shift(torch.zeros(10, 8, 2, 2), 4)


def test_module_shifts_then_calls_net():
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 4, 1)
    module = TemporalShift(conv, num_segments=4, shift_div=4)
    x = torch.randn(8, 16, 3, 3)
    assert torch.equal(module(x), conv(naive_shift(x, 4, 4)))
    assert list(module.state_dict()) == ['net.weight', 'net.bias']


def test_parts_shift_each_chunk_within_its_own_clips():
    x = torch.randn(2 * 4 + 3 * 2, 16, 3, 3, requires_grad=True)
    out = temporal_shift_parts(x, ((8, 4), (6, 2)), shift_div=4)
    expected = torch.cat([naive_shift(x[:8], 4, 4), naive_shift(x[8:], 2, 4)])
    assert torch.equal(out, expected)
    g = torch.randn_like(out)
    (grad,) = torch.autograd.grad(out, x, g)
    (grad_ref,) = torch.autograd.grad(expected, x, g)
    assert torch.equal(grad, grad_ref)
    with pytest.raises(ValueError, match='do not cover'):
        temporal_shift_parts(x, ((8, 4),))
    with pytest.raises(ValueError, match='not divisible'):
        temporal_shift_parts(x, ((8, 3), (6, 2)))
