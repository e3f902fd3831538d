"""TSMResNet against mmaction2's ResNetTSM, and its weight loading."""

import logging

import pytest
import torch
from mmaction.models.backbones.resnet_tsm import ResNetTSM
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from torch import nn

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import one_thread_fixture, random_bns
from tests.models._foreign_models import to_torchvision
from tsm_plugin.errors import InputError
from tsm_plugin.models.temporal_shift import TemporalShift
from tsm_plugin.models.tsm_resnet import TSMResNet

SIZE = 32  # px: keeps ResNet-50 fast on CPU; layer4 is then 1x1

one_thread = one_thread_fixture('module')


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Scratch init, then random BN affine/statistics (BN not identity)."""
    torch.manual_seed(seed)
    model.init_weights()
    return random_bns(model, seed)


def clips(num_clips, num_segments, seed=1):
    torch.manual_seed(seed)
    return torch.randn(num_clips * num_segments, 3, SIZE, SIZE)


@pytest.mark.parametrize('depth', [18, 50, 101])
def test_state_dict_keys_equal_mmaction2(depth):
    ours = TSMResNet(depth, num_segments=4)
    stock = ResNetTSM(depth, num_segments=4, pretrained=None)
    assert list(ours.state_dict()) == list(stock.state_dict())
    shifts = [
        n for n, m in ours.named_modules() if isinstance(m, TemporalShift)
    ]
    # every block shifted; ResNet-101 (23 blocks in layer3): every other
    assert len(shifts) == {18: 8, 50: 16, 101: 18}[depth]


@pytest.mark.parametrize('num_segments', [8, 16])
def test_eval_output_equals_mmaction2(num_segments):
    stock = randomize(
        ResNetTSM(50, num_segments=num_segments, pretrained=None)
    )
    stock.eval()  # mmaction2's ResNet.train returns None: no chaining
    ours = TSMResNet(50, num_segments=num_segments).eval()
    ours.load_state_dict(stock.state_dict(), strict=True)
    x = clips(2, num_segments)
    with torch.no_grad():
        expected = stock(x)
        out = ours(x)
        out_cl = ours(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == (2 * num_segments, 2048, 1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # channels_last stays channels_last through every layer here (stock
    # falls back to NCHW after its first shift), so oneDNN picks other conv
    # kernels: equal up to float32 rounding, 1e-5 of the output's scale.
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    scale = expected.abs().max().item()
    torch.testing.assert_close(out_cl, expected, rtol=0, atol=1e-5 * scale)


def test_train_gradients_equal_mmaction2():
    stock = randomize(ResNetTSM(50, num_segments=4, pretrained=None))
    stock.train()
    ours = TSMResNet(50, num_segments=4).train()
    ours.load_state_dict(stock.state_dict(), strict=True)
    x = clips(2, 4)
    grads = []
    for model in (stock, ours):
        xx = x.clone().requires_grad_()
        model(xx).square().mean().backward()
        grads.append((xx.grad, model.layer1[0].conv1.conv.net.weight.grad))
    for got, want in zip(grads[1], grads[0]):
        # equal up to the order autograd sums the two residual branches
        scale = want.abs().max().item()
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * scale)


def test_num_segments_changes_at_runtime():
    trained = randomize(TSMResNet(50, num_segments=16)).eval()
    x = clips(4, 4)  # one 16-frame clip, or four 4-frame clips
    with torch.no_grad():
        at_16 = trained(x)
        trained.num_segments = 4
        out = trained(x)
    fresh = TSMResNet(50, num_segments=4).eval()
    fresh.load_state_dict(trained.state_dict(), strict=True)
    with torch.no_grad():
        expected = fresh(x)
    assert torch.equal(out, expected)
    assert {
        m.num_segments
        for m in trained.modules()
        if isinstance(m, TemporalShift)
    } == {4}
    assert not torch.allclose(at_16, out)  # the shift really changed


@pytest.mark.parametrize('value', [0, -1, 2.5])
def test_num_segments_rejects_bad_values(value):
    model = TSMResNet(18)
    with pytest.raises(ValueError, match='num_segments'):
        model.num_segments = value


def test_forward_rejects_indivisible_batch():
    model = TSMResNet(18, num_segments=8)
    with pytest.raises(ValueError, match=r'12 frames .* num_segments=8'):
        model(torch.zeros(12, 3, SIZE, SIZE))


def test_build_from_registry_and_scratch_init():
    model = MODELS.build(dict(type='TSMResNet', depth=50, pretrained=None))
    assert isinstance(model, TSMResNet)
    assert (model.num_segments, model.shift_div) == (8, 8)
    model.init_weights()  # pretrained=None: scratch init, no crash
    bn = model.layer4[2].conv3.bn
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))  # constant
    assert model.layer1[0].conv1.conv.net.weight.std() > 0  # kaiming
    assert model.eval() is model


@pytest.fixture
def log_records():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_loads_local_torchvision_checkpoint(tmp_path, log_records):
    source = randomize(TSMResNet(50), seed=3)
    ours = source.state_dict()
    checkpoint = {
        to_torchvision(k): v
        for k, v in ours.items()
        if not k.endswith('num_batches_tracked')
    }
    assert 'layer2.0.downsample.1.running_var' in checkpoint
    assert 'layer1.0.bn1.weight' in checkpoint and 'bn1.bias' in checkpoint
    checkpoint['fc.weight'] = torch.zeros(1000, 2048)
    checkpoint['fc.bias'] = torch.zeros(1000)
    del checkpoint['layer4.2.bn3.running_var']
    path = tmp_path / 'resnet50.pth'
    torch.save(checkpoint, path)

    model = TSMResNet(50, pretrained=str(path))
    model.init_weights()
    loaded = model.state_dict()
    for key, value in ours.items():
        if key == 'layer4.2.conv3.bn.running_var':
            assert torch.equal(loaded[key], torch.ones(2048))  # scratch
        elif not key.endswith('num_batches_tracked'):
            assert torch.equal(loaded[key], value), key

    messages = [r.getMessage() for r in log_records]
    assert any(
        'unused keys' in m and 'fc.bias, fc.weight' in m for m in messages
    ), messages
    assert any(
        'missing' in m and 'layer4.2.conv3.bn.running_var' in m
        for m in messages
    ), messages


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / 'nope.pth'
    model = TSMResNet(18, pretrained=str(path))
    with pytest.raises(InputError, match=f'not found: {path}'):
        model.init_weights()


def test_frozen_stages_and_norm_eval():
    model = TSMResNet(50, num_segments=2, frozen_stages=1, norm_eval=True)
    model.init_weights()
    model.train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert not any(bn.training for bn in bns)
    before = model.layer3[0].conv1.bn.running_mean.clone()
    model(clips(1, 2))
    assert torch.equal(model.layer3[0].conv1.bn.running_mean, before)

    plain = TSMResNet(50, num_segments=2).train()
    assert all(
        m.training for m in plain.modules() if isinstance(m, nn.BatchNorm2d)
    )
