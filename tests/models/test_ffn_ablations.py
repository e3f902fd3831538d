"""FFN's Tab. 4 ablations (w/o TD, w/o WS, the shared BN's batching) and
its Tab. 2/3 frame-count sets (2 and 4 branches)."""

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import one_thread_fixture, random_bns
from tests.models.test_ffn_recognizer import logits, samples
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.models.ffn_block import BranchConvs
from tsm_plugin.models.ffn_fused import run_branches
from tsm_plugin.models.ffn_resnet import FFNResNet
from tsm_plugin.models.frame_counts import frame_count
from tsm_plugin.models.tsm_resnet import TSMResNet

SIZE = 8  # px: layer2 to layer4 are then 1x1; keeps CPU time low

one_thread = one_thread_fixture('module')


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


def build(train_cfg=None, branch_loss='distill', ce_weights=None, **backbone):
    """A depth-18 FFNRecognizer (5 classes, no dropout)."""
    return MODELS.build(
        dict(
            type='FFNRecognizer',
            backbone=dict(type='FFNResNet', depth=18, **backbone),
            train_cfg=train_cfg,
            branch_loss=branch_loss,
            ce_weights=ce_weights,
            cls_head=dict(
                type='TSMHead',
                num_classes=5,
                in_channels=512,
                num_segments=16,
                dropout_ratio=0.0,
                average_clips='prob',
            ),
        )
    )


def ready(model, seed=0):
    """Initialised, every BN random (branches differ), the head random."""
    torch.manual_seed(seed)
    model.init_weights()
    random_bns(model, seed=seed)
    with torch.no_grad():
        model.cls_head.fc_cls.weight.normal_(0, 0.3)
    return model


def clips(frames, n=2, seed=3, size=SIZE):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, frames, 3, size, size, generator=g)


def conv_params(module):
    return sum(
        p.numel()
        for name, p in module.named_parameters()
        if '.conv' in f'.{name}' and 'adapter' not in name
    )


# ---- w/o TD: the cross-entropy of every branch, no KL ----------------------


def test_without_td_is_the_sum_of_each_branch_cross_entropy():
    model = ready(build(branch_loss='ce')).train()
    assert model.distill_loss is None
    inputs, labels = clips(28), [1, 4]
    with torch.no_grad():
        losses = model.loss(inputs, samples(labels))
        by_hand = {
            16: logits(model, inputs[:, :16], 2, 16),
            8: logits(model, inputs[:, 16:24], 1, 8),
            4: logits(model, inputs[:, 24:], 0, 4),
        }
    target = torch.tensor(labels)
    ce = {k: F.cross_entropy(v, target) for k, v in by_hand.items()}
    assert set(losses) == {
        'loss_cls',
        'loss_cls_8f',
        'loss_cls_4f',
        'top1_acc',
        'top5_acc',
    }
    torch.testing.assert_close(losses['loss_cls'], ce[16])
    torch.testing.assert_close(losses['loss_cls_8f'], ce[8])
    torch.testing.assert_close(losses['loss_cls_4f'], ce[4])
    assert len({round(v.item(), 4) for v in ce.values()}) == 3  # differ
    # weighted, largest count first
    model.ce_weights = (0.5, 1.0, 2.0)
    with torch.no_grad():
        weighted = model.loss(inputs, samples(labels))
    torch.testing.assert_close(weighted['loss_cls'], 0.5 * ce[16])
    torch.testing.assert_close(weighted['loss_cls_8f'], ce[8])
    torch.testing.assert_close(weighted['loss_cls_4f'], 2 * ce[4])


@pytest.mark.parametrize(
    'kwargs, message',
    [
        (dict(branch_loss='kl'), 'branch_loss must be one of'),
        (dict(ce_weights=(1, 1, 1)), "ce_weights needs branch_loss='ce'"),
        (dict(branch_loss='ce', ce_weights=(1, 1)), 'must be 3 numbers'),
        (dict(branch_loss='ce', ce_weights=(1, -1, 1)), 'must be 3 numbers'),
    ],
)
def test_branch_loss_errors(kwargs, message):
    with pytest.raises(ConfigValueError, match=message):
        build(**kwargs)


# ---- w/o WS: every conv private to its branch ------------------------------


def test_without_ws_branches_own_their_convolutions():
    torch.manual_seed(0)
    shared, own = FFNResNet(18), FFNResNet(18, weight_sharing=False)
    own.init_weights()
    keys = set(own.state_dict())
    assert {
        'conv1.2.weight',
        'layer1.0.conv1.0.weight',
        'layer4.1.conv2.1.weight',
        'layer2.0.downsample.conv.2.weight',
    } <= keys
    assert 'layer1.0.conv1.weight' not in keys
    assert 'layer1.0.conv1.weight' in shared.state_dict()
    assert not any(isinstance(m, BranchConvs) for m in shared.modules())
    for convs in [
        own.conv1,
        own.layer1[0].conv1,
        own.layer3[0].downsample.conv,
    ]:
        assert isinstance(convs, BranchConvs) and len(convs) == 3
        ptrs = {c.weight.data_ptr() for c in convs}
        assert len(ptrs) == 3
        assert not torch.equal(convs[0].weight, convs[1].weight)
    assert conv_params(own) == 3 * conv_params(shared) > 0
    count = [sum(p.numel() for p in m.parameters()) for m in (shared, own)]
    assert count[1] - count[0] == 2 * conv_params(shared)
    assert 2.9 < count[1] / count[0] < 3.0  # the BNs were per branch already
    with pytest.raises(ValueError, match='shared convolutions'):
        run_branches(own, [torch.zeros(4, 3, SIZE, SIZE)], [0])


def test_without_ws_trains_branch_by_branch_and_routes():
    model = ready(build(weight_sharing=False))
    assert model.train_cfg['fused'] and not model.shares_convs
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    data = dict(
        inputs=[torch.rand(28, 3, SIZE, SIZE) * 255 for _ in range(2)],
        data_samples=samples([0, 3]),
    )
    losses = model.train().train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    assert {'loss_cls', 'loss_kl_8f', 'loss_kl_4f'} <= set(losses)
    unchanged = [
        n for n, p in model.named_parameters() if torch.equal(p, before[n])
    ]
    assert unchanged == []  # every branch's convs were trained
    ran = []
    hooks = [
        conv.register_forward_hook(lambda m, a, o, b=b: ran.append(b))
        for b, conv in enumerate(model.backbone.conv1)
    ]
    model.eval()
    for k, branch in ((4, 0), (6, 1), (12, 2)):
        ran.clear()
        with torch.no_grad(), frame_count(model, k):
            model.predict(clips(k, n=1), samples([0]))
        assert ran == [branch], k
    for hook in hooks:
        hook.remove()


def test_without_ws_pretrained_fills_every_branch(tmp_path):
    torch.manual_seed(0)
    tsm = TSMResNet(18)
    tsm.init_weights()
    random_bns(tsm, seed=1)
    path = tmp_path / 'tsm18.pth'
    torch.save(tsm.state_dict(), path)
    own = FFNResNet(18, weight_sharing=False, pretrained=str(path))
    own.init_weights()
    source = tsm.state_dict()
    for b in range(3):
        assert torch.equal(own.conv1[b].weight, source['conv1.conv.weight'])
        assert torch.equal(
            own.layer1[0].conv1[b].weight,
            source['layer1.0.conv1.conv.net.weight'],
        )
        assert torch.equal(
            own.layer2[0].downsample.conv[b].weight,
            source['layer2.0.downsample.conv.weight'],
        )
        assert torch.equal(
            own.layer1[0].bn2[b].running_var,
            source['layer1.0.conv2.bn.running_var'],
        )
    assert torch.count_nonzero(own.layer1[0].adapter[1].weight) == 0


def test_without_ws_warm_starts_every_branch_from_a_tsm_checkpoint():
    """load_from's path (CheckpointFormatHook): a TSM recognizer's state
    dict fills each branch's own convs and BNs of a w/o WS FFN."""
    from tsm_plugin.models.checkpoint_formats import plan_load

    torch.manual_seed(0)
    tsm = MODELS.build(
        dict(
            type='Recognizer2D',
            backbone=dict(type='TSMResNet', depth=18, num_segments=16),
            cls_head=dict(type='TSMHead', num_classes=5, in_channels=512),
        )
    )
    tsm.init_weights()
    ffn = build(weight_sharing=False)
    plan = plan_load(dict(state_dict=tsm.state_dict()), ffn)
    assert plan.misfit() is None and plan.warm_start
    ffn.load_state_dict(plan.state_dict, strict=False)
    source = tsm.state_dict()
    key = 'backbone.layer2.0.{}.conv.weight'
    for b in range(3):
        layer = ffn.backbone.layer2[0]
        assert torch.equal(
            layer.conv1[b].weight,
            source['backbone.layer2.0.conv1.conv.net.weight'],
        )
        assert torch.equal(
            layer.downsample.conv[b].weight, source[key.format('downsample')]
        )


# ---- w/o SN: how the shared BN batches the branches ------------------------


def stem_stats_after_a_step(batch):
    model = ready(
        build(shared_bn=True, train_cfg=dict(shared_bn_batch=batch))
    ).train()
    bn = model.backbone.bn1[0]
    start = bn.running_mean.clone()
    inputs = clips(28)
    with torch.no_grad():
        losses = model.loss(inputs, samples([0, 1]))
        frames = [p.flatten(0, 1) for p in inputs.split([16, 8, 4], dim=1)]
        convs = [model.backbone.conv1(f) for f in frames]
    return losses, start, bn, convs


def test_joint_shared_bn_uses_one_set_of_batch_statistics():
    losses, start, bn, convs = stem_stats_after_a_step('joint')
    m = bn.momentum
    joint = torch.cat(convs).mean((0, 2, 3))
    torch.testing.assert_close(bn.running_mean, (1 - m) * start + m * joint)
    assert bn.num_batches_tracked == 1  # one update per step
    branch_losses, start, bn, convs = stem_stats_after_a_step('branch')
    expected = start
    for c in convs:  # each branch in turn, largest first
        expected = (1 - m) * expected + m * c.mean((0, 2, 3))
    torch.testing.assert_close(bn.running_mean, expected)
    assert bn.num_batches_tracked == 3
    assert not torch.allclose(
        losses['loss_kl_4f'], branch_losses['loss_kl_4f']
    )


@pytest.mark.parametrize(
    'kwargs, message',
    [
        (dict(train_cfg=dict(shared_bn_batch='all')), 'must be one of'),
        (dict(train_cfg=dict(shared_bn_batch='joint')), 'shared_bn=True'),
        (
            dict(
                shared_bn=True,
                weight_sharing=False,
                train_cfg=dict(shared_bn_batch='joint'),
            ),
            'weight_sharing=True',
        ),
    ],
)
def test_shared_bn_batch_errors(kwargs, message):
    with pytest.raises(ConfigValueError, match=message):
        build(**kwargs)


# ---- other frame-count sets: 2 and 4 branches ------------------------------


def nearest_by_hand(k, counts):
    """The count nearest to ``k``; of two equally near, the larger."""
    gap = min(abs(k - c) for c in counts)
    return max(c for c in counts if abs(k - c) == gap)


@pytest.mark.parametrize(
    'counts, ties',
    [((4, 16), {10: 16}), ((4, 8, 12, 16), {6: 8, 10: 12, 14: 16})],
)
def test_frame_count_sets_train_and_route(counts, ties):
    model = ready(build(frame_counts=counts))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    data = dict(
        inputs=[torch.rand(sum(counts), 3, SIZE, SIZE) * 255] * 2,
        data_samples=samples([0, 2]),
    )
    losses = model.train().train_step(data, optim)
    smaller = sorted(counts)[:-1]
    assert set(losses) == {'loss', 'loss_cls', 'top1_acc', 'top5_acc'} | {
        f'loss_kl_{n}f' for n in smaller
    }
    assert all(torch.isfinite(v) for v in losses.values())
    ran = []
    hooks = [
        bn.register_forward_hook(lambda m, a, o, c=c: ran.append(c))
        for bn, c in zip(model.backbone.bn1, counts)
    ]
    model.eval()
    routed = {}
    for k in range(1, 31):
        ran.clear()
        with torch.no_grad(), frame_count(model, k):
            model.predict(clips(k, n=1, seed=k), samples([0]))
        assert len(ran) == 1, k
        routed[k] = ran[0]
    for hook in hooks:
        hook.remove()
    assert routed == {k: nearest_by_hand(k, counts) for k in routed}
    assert {k: routed[k] for k in ties} == ties
    assert set(routed.values()) == set(counts)
