"""FFNResNet: per-branch norms and adapters on a shared TSM-ResNet."""

import math

import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import one_thread_fixture, random_bns
from tests.models._foreign_models import to_torchvision
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.models.ffn_resnet import FFNResNet
from tsm_plugin.models.frame_counts import nearest_branch
from tsm_plugin.models.state_dict_keys import match_keys
from tsm_plugin.models.tsm_resnet import TSMResNet

SIZE = 16  # px: layer3 and layer4 are then 1x1; keeps CPU time low
COUNTS = (4, 8, 16)

one_thread = one_thread_fixture('module')


def tsm18(num_segments: int, seed: int = 0) -> TSMResNet:
    torch.manual_seed(seed)
    model = TSMResNet(18, num_segments=num_segments)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out')
    return random_bns(model, seed)


def frames(num_clips, num_segments, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(num_clips * num_segments, 3, SIZE, SIZE, generator=g)


def ffn18(**kwargs) -> FFNResNet:
    model = FFNResNet(18, **kwargs)
    model.init_weights()
    return model


def load_tsm(ffn: FFNResNet, tsm: TSMResNet):
    """The TSM's weights into every branch (FFN's warm start, through the
    one naming of state dicts); returns the match."""
    found = match_keys(tsm.state_dict(), ffn.state_dict(), counts=COUNTS)
    state = tsm.state_dict()
    ffn.load_state_dict(
        {k: state[s] for k, s in found.pairs.items()}, strict=False
    )
    return found


@pytest.mark.parametrize('train', [False, True])
def test_each_branch_equals_tsm_at_its_count(train):
    """Identical BNs and zero adapters: every branch IS the TSM it loads."""
    tsm = tsm18(8)
    ffn = ffn18()
    found = load_tsm(ffn, tsm)
    assert found.missing == [] and found.unused == []
    for branch, count in enumerate(COUNTS):
        tsm.num_segments = count
        x = frames(2, count)
        tsm.train(train)
        ffn.train(train)
        with torch.no_grad():
            expected = tsm(x)
            out = ffn(x, branch=branch)
        assert out.shape == (2 * count, 512, 1, 1)
        assert torch.equal(out, expected), count


def test_adapters_change_the_output():
    tsm = tsm18(8)
    ffn = ffn18(adapter_init='official')
    load_tsm(ffn, tsm)
    ffn.eval(), tsm.eval()
    x = frames(2, 8)
    with torch.no_grad():
        diff = (ffn(x, branch=1) - tsm(x)).abs().max().item()
    assert diff > 1e-2


def clip_outputs(mode, model_mode, perturb):
    """Branch 4F on 4 clips whose frames hold the clip's index."""
    torch.manual_seed(0)
    ffn = ffn18(train_shift=mode, norm_eval=True)  # BN stats never mix clips
    random_bns(ffn, 0)
    ffn.train(model_mode == 'train')
    x = torch.arange(4.0).repeat_interleave(4).view(16, 1, 1, 1)
    x = x.expand(16, 3, SIZE, SIZE).clone()
    x += 0.1 * frames(4, 4, seed=2)
    if perturb:
        x[4:8] += torch.randn(4, 3, SIZE, SIZE)
    with torch.no_grad():
        return ffn(x, branch=0).view(4, 4, -1)


@pytest.mark.parametrize(
    'mode, model_mode, leaks',
    [
        ('branch', 'train', False),
        ('branch', 'eval', False),
        ('official', 'train', True),  # BeSpontaneous/FFN-pytorch#3
        ('official', 'eval', False),  # the official test-time shift is right
    ],
)
def test_clips_mix_only_under_the_official_training_shift(
    mode, model_mode, leaks
):
    base = clip_outputs(mode, model_mode, perturb=False)
    moved = clip_outputs(mode, model_mode, perturb=True)
    assert not torch.equal(moved[1], base[1])  # the perturbation is seen
    for clip in (0, 2, 3):
        same = torch.equal(moved[clip], base[clip])
        # the 16-step official shift chains clips 0-1-2-3; stacked blocks
        # carry clip 1 into all of them
        assert same == (not leaks), clip


def test_official_shift_needs_whole_16_frame_groups():
    ffn = ffn18(train_shift='official').train()
    with pytest.raises(ValueError, match='not divisible'):
        ffn(frames(2, 4), branch=0)  # 8 frames, shift over 16


def test_routing_table():
    table = [nearest_branch(k, COUNTS) for k in range(1, 21)]
    # FFN.md 3.1: 1-5 -> 4F, 6-11 -> 8F (6 a tie), >= 12 -> 16F (12 a tie)
    assert table == [0] * 5 + [1] * 6 + [2] * 9
    # no hard-coded 16: counts (2, 6, 24) in any order
    assert [
        (2, 6, 24)[nearest_branch(k, (2, 6, 24))] for k in (1, 4, 5, 15, 16)
    ] == [2, 6, 6, 24, 24]
    assert (16, 4, 8)[nearest_branch(6, (16, 4, 8))] == 8


def test_num_segments_routes_the_default_forward():
    ffn = ffn18().eval()
    for i, m in enumerate(ffn.modules()):
        if isinstance(m, nn.BatchNorm2d):
            random_bns(m, i)  # the branches differ
    for k, branch in [(3, 0), (6, 1), (12, 2)]:
        ffn.num_segments = k
        assert ffn.test_branch == branch
        x = frames(1, k)
        with torch.no_grad():
            out = ffn(x)
            outs = [ffn(x, branch=b, num_segments=k) for b in range(3)]
            assert torch.equal(ffn(x, num_segments=k), out)
        assert [torch.equal(out, o) for o in outs] == [
            b == branch for b in range(3)
        ]


def test_adapter_inits():
    torch.manual_seed(0)
    weights = {}
    for init in ('zeros', 'as_written', 'official'):
        ffn = ffn18(adapter_init=init)
        weights[init] = {
            n: p.detach().flatten()
            for n, p in ffn.named_parameters()
            if '.adapter.' in n
        }
    # 8 blocks x 3 branches, one scalar per input channel
    assert len(weights['zeros']) == 24
    assert all((w == 0).all() for w in weights['zeros'].values())
    written = torch.cat(list(weights['as_written'].values()))
    assert written.numel() == 3 * (64 * 3 + 128 * 2 + 256 * 2 + 512)
    assert 0.9e-3 < written.std().item() < 1.1e-3
    # Kaiming fan_out of a depthwise (C, 1, 1, 1) weight: std sqrt(2 / C)
    w = weights['official']['layer4.1.adapter.2.weight']
    assert abs(w.std().item() / math.sqrt(2 / 512) - 1) < 0.15


def test_ablation_switches_and_keys():
    ffn = FFNResNet(18)
    keys = list(ffn.state_dict())
    assert keys[0] == 'conv1.weight'
    assert (
        next(n for n, m in ffn.named_modules() if isinstance(m, nn.Conv2d))
        == 'conv1'
    )
    assert 'layer2.0.downsample.bn.2.running_var' in keys
    pairs = match_keys(TSMResNet(18).state_dict(), keys, counts=COUNTS).pairs
    assert pairs['layer2.0.downsample.bn.2.bias'] == (
        'layer2.0.downsample.bn.bias'
    )
    assert pairs['bn1.1.weight'] == 'conv1.bn.weight'
    assert 'layer1.0.adapter.0.weight' not in pairs
    shared = FFNResNet(18, shared_bn=True, adapters=False)
    assert len(shared.bn1) == 1 and shared.layer1[0].adapter is None
    assert len(ffn.layer3[1].bn2) == 3 and len(ffn.layer3[1].adapter) == 3


@pytest.mark.parametrize(
    'kwargs, delta',
    [
        (dict(), 145_600),  # FFN.md 1.6: 2 x 53,120 BN + 3 x 13,120 adapters
        (dict(shared_bn=True), 39_360),  # "w/o SN": adapters only
        (dict(adapters=False), 106_240),  # "w/o WA": extra BNs only
    ],
)
def test_resnet50_parameter_delta(kwargs, delta):
    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(FFNResNet(50, **kwargs)) - count(TSMResNet(50)) == delta


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(depth=20),
        dict(frame_counts=(4, 4)),
        dict(frame_counts=()),
        dict(frame_counts=(0, 8)),
        dict(train_shift='sixteen'),
        dict(adapter_init='kaiming'),
        dict(num_segments=0),
        dict(shift_div=0),
    ],
)
def test_bad_values_raise(kwargs):
    kwargs = dict(dict(depth=18), **kwargs)
    with pytest.raises(ConfigValueError):
        FFNResNet(**kwargs)


def test_pretrained_torchvision_file_fills_every_branch(tmp_path):
    tsm = tsm18(8)
    state = {to_torchvision(k): v for k, v in tsm.state_dict().items()}
    state['fc.weight'] = torch.zeros(1000, 512)
    path = tmp_path / 'resnet18.pth'
    torch.save(state, path)
    MMLogger.get_instance('test_ffn_resnet')
    ffn = ffn18(pretrained=str(path))
    ours = ffn.state_dict()
    for b in range(3):
        assert torch.equal(
            ours[f'layer3.0.downsample.bn.{b}.running_var'],
            state['layer3.0.downsample.1.running_var'],
        )
        assert torch.equal(ours[f'bn1.{b}.weight'], state['bn1.weight'])
    assert torch.equal(
        ours['layer4.1.conv2.weight'], state['layer4.1.conv2.weight']
    )
    with pytest.raises(InputError, match='not found'):
        ffn18(pretrained=str(tmp_path / 'missing.pth'))


def test_gradients_reach_zero_adapters():
    ffn = ffn18().train()
    ffn(frames(2, 8), branch=1).sum().backward()
    grads = [ffn.layer2[1].adapter[b].weight.grad for b in range(3)]
    assert grads[0] is None and grads[2] is None  # other branches unused
    assert grads[1].abs().sum() > 0
