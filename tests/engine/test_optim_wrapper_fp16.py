"""fp16 training with dynamic loss scaling (CPU autocast and a CPU
GradScaler, as on a V100): clipping sees unscaled gradients; a step whose
gradients overflow is skipped by the scaler and passes NonFiniteLossHook;
a non-finite loss, or overflow at every scale, still stops the run."""

import logging
import uuid

import pytest
import torch
from mmengine.model import BaseModel

import tsm_plugin.registration  # noqa: F401
from tests.engine import _toy
from tsm_plugin.engine.hooks.non_finite_loss_hook import NonFiniteLossError
from tsm_plugin.engine.optim_wrapper import (
    SKIPPED_IN_A_ROW,
    AutocastOptimWrapper,
)


class _Overflow(torch.autograd.Function):
    """Identity; its backward makes the gradient inf when ``on``."""

    @staticmethod
    def forward(ctx, x, on):
        ctx.on = on
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return (grad * float('inf') if ctx.on else grad), None


class _Net(BaseModel):
    """conv -> fc. Iterations (1-based) in ``overflow`` get inf gradients
    (finite loss); those in ``nan_loss`` return a NaN loss."""

    def __init__(self, overflow=(), nan_loss=()):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)
        self.overflow, self.nan_loss = set(overflow), set(nan_loss)
        self.calls = 0
        self.dtypes = []

    def forward(self, inputs, labels=None, mode='tensor'):
        self.calls += 1
        x = self.conv(inputs)
        self.dtypes.append(x.dtype)
        x = _Overflow.apply(x, self.calls in self.overflow)
        loss = torch.nn.functional.cross_entropy(
            self.fc(x.mean((2, 3))).float(), labels
        )
        if self.calls in self.nan_loss:
            loss = loss * float('nan')
        return dict(loss=loss)


def _batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=torch.randn(4, 3, 8, 8, generator=g) * 10,
        labels=torch.tensor([0, 1, 1, 0]),
    )


def _wrapper(net, **kwargs):
    return AutocastOptimWrapper(
        torch.optim.SGD(net.parameters(), lr=1.0), precision='fp16', **kwargs
    )


def _loss(net, wrapper):
    """The forward as train_step runs it (under the wrapper's autocast)."""
    with wrapper.optim_context(net):
        return net(**_batch(), mode='loss')['loss']


def _grads(net):
    return [p.grad.clone() for p in net.parameters()]


def _norm(tensors):
    return torch.linalg.vector_norm(torch.stack([t.norm() for t in tensors]))


def test_clipping_acts_on_unscaled_gradients():
    free, clipped = _Net(), _Net()
    wrap_free = _wrapper(free)
    max_norm = 0.05
    wrap_clip = _wrapper(clipped, clip_grad=dict(max_norm=max_norm))
    assert wrap_clip.loss_scaler.get_scale() == 2.0**16
    before = [p.detach().clone() for p in clipped.parameters()]
    for net, wrapper in ((free, wrap_free), (clipped, wrap_clip)):
        loss = _loss(net, wrapper)
        wrapper.backward(loss)
        wrapper.step()  # the scaler unscales .grad in place, then steps
    assert clipped.dtypes == [torch.float16]  # the conv ran in fp16
    true = _grads(free)  # unscaled, unclipped
    true_norm = _norm(true)
    assert 0.1 < true_norm < 1e3  # far below the scale: nothing overflowed
    # grad_norm is logged in true units, and clipping scaled the true
    # gradients down to max_norm (scaled ones would give 2**16x larger).
    logged = wrap_clip.message_hub.get_scalar('train/grad_norm').current()
    assert logged == pytest.approx(float(true_norm), rel=1e-5)
    got = _grads(clipped)
    assert float(_norm(got)) == pytest.approx(max_norm, rel=1e-4)
    for g, t in zip(got, true):
        torch.testing.assert_close(g, t * (max_norm / true_norm))
    # SGD, lr 1: the weights moved by exactly the clipped gradients
    for b, p, g in zip(before, clipped.parameters(), got):
        torch.testing.assert_close(p.detach(), b - g)
    assert wrap_clip.loss_scaler.get_scale() == 2.0**16  # not skipped


def test_an_overflowing_step_is_skipped_and_the_scale_halved():
    net = _Net(overflow={1})
    wrapper = _wrapper(net, clip_grad=dict(max_norm=1.0))
    before = [p.detach().clone() for p in net.parameters()]
    loss = _loss(net, wrapper)
    assert torch.isfinite(loss)
    wrapper.update_params(loss)
    for b, p in zip(before, net.parameters()):
        assert torch.equal(b, p.detach())  # skipped
    assert wrapper.loss_scaler.get_scale() == 2.0**15
    hub = wrapper.message_hub
    assert hub.get_info(SKIPPED_IN_A_ROW) == 1
    assert hub.get_scalar('train/loss_scale').current() == 2.0**15
    wrapper.update_params(_loss(net, wrapper))  # no overflow
    assert hub.get_info(SKIPPED_IN_A_ROW) == 0
    assert not torch.equal(before[0], net.conv.weight.detach())


def _run(tmp_path, net, **hook):
    """6 fp16 iterations with clipping under NonFiniteLossHook."""
    from mmengine.runner import Runner

    runner = Runner(
        model=net,
        work_dir=str(tmp_path),
        train_dataloader=_toy.image_loader(12),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(
            type='AutocastOptimWrapper',
            precision='fp16',
            optimizer=dict(type='SGD', lr=0.01),
            clip_grad=dict(max_norm=1.0),
        ),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[dict(type='NonFiniteLossHook', **hook)],
        default_scope='mmaction',
        log_level=logging.WARNING,
        experiment_name=f'fp16_{uuid.uuid4().hex}',
    )
    runner.train()
    return runner


def test_skipped_steps_do_not_stop_training(tmp_path):
    net = _Net(overflow={2, 3})
    start = net.conv.weight.detach().clone()
    runner = _run(tmp_path, net)
    assert runner.iter == 6 and net.calls == 6
    assert runner.optim_wrapper.loss_scaler.get_scale() == 2.0**14
    assert runner.message_hub.get_info(SKIPPED_IN_A_ROW) == 0
    assert not torch.equal(start, net.conv.weight.detach())


def test_overflow_at_every_scale_stops_the_run(tmp_path):
    with pytest.raises(NonFiniteLossError, match='fp16.*last 3 steps'):
        _run(tmp_path, _Net(overflow=range(1, 7)), max_skipped_steps=3)


def test_a_non_finite_loss_still_stops_the_run(tmp_path):
    with pytest.raises(NonFiniteLossError, match='loss is nan at iteration 2'):
        _run(tmp_path, _Net(nan_loss={2}))
