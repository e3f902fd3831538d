"""ffn_fused: FFN's one-pass training step equals each branch run alone."""

import copy

import pytest
import torch
from torch import nn

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import one_thread_fixture, random_bns
from tsm_plugin.models.ffn_block import ResidualAdapter
from tsm_plugin.models.ffn_fused import folded_conv, run_branches
from tsm_plugin.models.ffn_resnet import FFNResNet

SIZE = 16  # px: layer3 and layer4 are then 1x1; keeps CPU time low
ORDER = ((2, 16), (1, 8), (0, 4))  # (branch, frames): the sampler's order

one_thread = one_thread_fixture('module')


def ffn18(**kwargs) -> FFNResNet:
    """Random adapters and BNs (no branch is an identity), train mode."""
    torch.manual_seed(0)
    model = FFNResNet(18, adapter_init='official', **kwargs)
    model.init_weights()
    return random_bns(model, 0).train()


def branch_inputs(clips: int, channels_last: bool = False):
    xs = []
    for _, count in ORDER:
        g = torch.Generator().manual_seed(count)
        x = torch.randn(clips * count, 3, SIZE, SIZE, generator=g)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        xs.append(x)
    return xs


def train_step(model, xs, split_stages=None):
    """Outputs, every parameter's gradient and every buffer after one
    forward and backward: fused (``split_stages``) or branch by branch."""
    branches = [b for b, _ in ORDER]
    if split_stages is None:
        outs = [model(x, branch=b) for x, b in zip(xs, branches)]
    else:
        outs = run_branches(model, xs, branches, split_stages)
    out = torch.cat(outs)
    g = torch.Generator().manual_seed(0)
    (out * torch.randn(out.shape, generator=g)).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    return out.detach(), grads, dict(model.named_buffers())


def assert_same_step(fused, alone):
    """Equal up to float32 rounding: the fused pass sums and scales in
    another order (each adapter folds into the next conv's weight or
    multiplies by ``1 + w`` where a lone branch adds its depthwise conv),
    and train-mode BNs over a few 1x1 maps magnify the difference."""
    (out, grads, bufs), (ref, ref_grads, ref_bufs) = fused, alone
    torch.testing.assert_close(out, ref, rtol=1e-3, atol=1e-4)
    assert (out - ref).norm() <= 1e-5 * ref.norm()
    for name, grad in grads.items():
        assert grad is not None, name  # every branch ran
        ref_grad = ref_grads[name]
        assert (grad - ref_grad).norm() <= 1e-5 * ref_grad.norm() + 1e-7, name
    for name, buf in bufs.items():
        torch.testing.assert_close(buf, ref_bufs[name], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope='module')
def reference():
    """The default backbone, its inputs and its branch-by-branch step."""
    model = ffn18()
    xs = branch_inputs(2)
    return model, xs, train_step(copy.deepcopy(model), xs)


@pytest.mark.parametrize('split_stages', [0, 1, 2, 3, 4])
def test_every_split_equals_each_branch_alone(reference, split_stages):
    """The stem and the first ``split_stages`` stages branch by branch (the
    adapters folded), the rest on 16 | 8 | 4 frames of every clip at once
    (the adapters multiplied): the outputs, every gradient and every BN's
    running statistics as the three branches run one by one."""
    model, xs, alone = reference
    fused = train_step(copy.deepcopy(model), xs, split_stages)
    assert_same_step(fused, alone)


@pytest.mark.parametrize(
    'shared_bn, adapters, train_shift, channels_last, split_stages',
    [
        # with the defaults (False, True, 'branch', False) of
        # test_every_split_equals_each_branch_alone: every pair of values
        # of any two of the four switches
        (False, False, 'official', True, 0),
        (True, True, 'official', True, 1),
        (True, False, 'branch', True, 2),
        (True, False, 'official', False, 3),
    ],
)
def test_ablations_and_layouts_equal_each_branch_alone(
    shared_bn, adapters, train_shift, channels_last, split_stages
):
    model = ffn18(
        shared_bn=shared_bn, adapters=adapters, train_shift=train_shift
    )
    # the official shift runs every branch over 16 frames: 4 clips of 4
    xs = branch_inputs(4 if train_shift == 'official' else 2, channels_last)
    alone = train_step(copy.deepcopy(model), xs)
    fused = train_step(model, xs, split_stages)
    assert_same_step(fused, alone)
    tracked = model.state_dict()[
        f'layer1.0.bn1.{0 if shared_bn else 2}.num_batches_tracked'
    ]
    assert int(tracked) == (3 if shared_bn else 1)


def test_adapter_is_a_residual_depthwise_conv():
    """Eq. 7-9: ``s + phi(s)``, ``phi`` one scalar per channel."""
    adapter = ResidualAdapter(3)
    assert isinstance(adapter, nn.Conv2d)
    with torch.no_grad():
        adapter.weight.copy_(torch.tensor([0.5, -1.0, 0.0]).view(3, 1, 1, 1))
    s = torch.randn(2, 3, 4, 4)
    expected = s * torch.tensor([1.5, 0.0, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(adapter(s), expected)


def test_adapter_folds_into_the_next_conv():
    """conv(adapter(s)) as one conv with scaled weights: the same values
    and the same gradients for the input, the conv and the adapter."""
    torch.manual_seed(0)
    adapter = ResidualAdapter(6)
    torch.nn.init.normal_(adapter.weight, std=0.5)
    conv = torch.nn.Conv2d(6, 4, 3, stride=2, padding=1, bias=False)
    x = torch.randn(3, 6, 9, 9, requires_grad=True)
    results = []
    for run in (
        lambda: conv(adapter(x)),
        lambda: folded_conv(conv, adapter, x),
    ):
        out = run()
        (
            out * torch.linspace(-1, 1, out.numel()).view_as(out)
        ).sum().backward()
        grads = [t.grad.clone() for t in (x, conv.weight, adapter.weight)]
        results.append((out.detach(), grads))
        for t in (x, conv.weight, adapter.weight):
            t.grad = None
    (out, grads), (folded, folded_grads) = results
    torch.testing.assert_close(folded, out)
    for grad, folded_grad in zip(grads, folded_grads):
        torch.testing.assert_close(folded_grad, grad)
