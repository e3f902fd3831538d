"""FFNRecognizer: the three-branch loss, test-time routing, optim groups."""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.engine.optimizers import TSMOptimWrapperConstructor
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import tsm_plugin.datasets.multi_count_sampling  # noqa: F401  (registers)
import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import (
    ffn_train_pipeline,
    one_thread_fixture,
    random_bns,
    tsm_recognizer,
)
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.models.distillation_loss import TemporalDistillationLoss
from tsm_plugin.models.ffn_recognizer import FFNRecognizer
from tsm_plugin.models.frame_counts import set_model_num_frames

SIZE = 16  # px: layer3 and layer4 are then 1x1
NUM_CLASSES = 5

one_thread = one_thread_fixture('module')


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')  # the data preprocessor's registry


def build(depth=18, num_classes=NUM_CLASSES, train_cfg=None, **backbone):
    model = MODELS.build(
        dict(
            type='FFNRecognizer',
            backbone=dict(type='FFNResNet', depth=depth, **backbone),
            train_cfg=train_cfg,
            cls_head=dict(
                type='TSMHead',
                num_classes=num_classes,
                in_channels=512 if depth < 50 else 2048,
                num_segments=16,
                dropout_ratio=0.0,
                average_clips='prob',
            ),
        )
    )
    assert isinstance(model, FFNRecognizer)
    return model


@pytest.fixture(scope='module')
def model():
    """Depth 18; every branch's BNs random and different, head random."""
    torch.manual_seed(0)
    net = build()
    net.init_weights()
    random_bns(net, seed=0)
    with torch.no_grad():
        net.cls_head.fc_cls.weight.normal_(0, 0.3)
    return net


def samples(labels, **meta):
    return [
        ActionDataSample(metainfo=meta).set_gt_label(label) for label in labels
    ]


def logits(net, clips, branch, num_segments):
    """By hand: backbone branch, spatial mean, fc, mean over the frames."""
    feats = net.backbone(
        clips.flatten(0, 1), branch=branch, num_segments=num_segments
    )
    scores = net.cls_head.fc_cls(feats.mean((2, 3)))
    return scores.view(-1, num_segments, NUM_CLASSES).mean(1)


def test_loss_terms_equal_cross_entropy_and_kl_by_hand(model):
    g = torch.Generator().manual_seed(3)
    inputs = torch.randn(2, 28, 3, SIZE, SIZE, generator=g)
    labels = [1, 4]
    model.train()
    with torch.no_grad():
        losses = model.loss(inputs, samples(labels))
        # the sampler's order 16 | 8 | 4; branches of (4, 8, 16): 2, 1, 0
        p16 = logits(model, inputs[:, :16], 2, 16)
        p8 = logits(model, inputs[:, 16:24], 1, 8)
        p4 = logits(model, inputs[:, 24:], 0, 4)
    assert set(losses) == {
        'loss_cls',
        'top1_acc',
        'top5_acc',
        'loss_kl_8f',
        'loss_kl_4f',
    }
    ce = F.cross_entropy(p16, torch.tensor(labels))
    teacher = F.softmax(p16, 1)
    kl8 = F.kl_div(F.log_softmax(p8, 1), teacher, reduction='batchmean')
    kl4 = F.kl_div(F.log_softmax(p4, 1), teacher, reduction='batchmean')
    torch.testing.assert_close(losses['loss_cls'], ce)
    torch.testing.assert_close(losses['loss_kl_8f'], kl8)
    torch.testing.assert_close(losses['loss_kl_4f'], kl4)
    assert kl8 > 1e-3 and kl4 > 1e-3  # the branches disagree: a real check
    acc = (p16.argmax(1) == torch.tensor(labels)).float().mean().item()
    assert losses['top1_acc'].item() == pytest.approx(acc)
    assert losses['top5_acc'].item() == 1.0  # 5 classes


def test_branch_by_branch_step_gives_the_same_loss(model):
    """train_cfg fused=False runs the backbone's forward once per branch:
    the losses and gradients of the fused step, up to float rounding
    (magnified by train-mode BNs over a few 1x1 maps)."""
    g = torch.Generator().manual_seed(4)
    inputs = torch.randn(2, 28, 3, SIZE, SIZE, generator=g)
    base = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in base.named_parameters():
            if '.adapter.' in name:
                p.normal_(0, 0.1, generator=g)  # no adapter an identity
    results = []
    for fused in (True, False):
        net = copy.deepcopy(base).train()
        assert net.train_cfg == dict(fused=True, split_stages=3)  # defaults
        net.train_cfg['fused'] = fused
        losses = net.loss(inputs, samples([1, 4]))
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        grads = {n: p.grad for n, p in net.named_parameters()}
        results.append((losses, grads))
    (fused, fused_grads), (alone, grads) = results
    assert set(fused) == set(alone)
    for key in fused:
        torch.testing.assert_close(fused[key], alone[key])
    for name, grad in grads.items():
        diff = (fused_grads[name] - grad).norm()
        assert diff <= 1e-4 * grad.norm() + 1e-7, name


def test_loss_rejects_wrong_frame_layouts(model):
    model.train()
    with pytest.raises(ValueError, match=r'\(N, 28, C, H, W\)'):
        model.loss(torch.zeros(1, 16, 3, SIZE, SIZE), samples([0]))
    with pytest.raises(ValueError, match='frame counts'):
        model.loss(
            torch.zeros(1, 28, 3, SIZE, SIZE),
            samples([0], frame_counts=(4, 8, 16)),
        )


def test_distillation_loss_value_and_stop_gradient():
    # p = softmax(ln 3, 0) = (.75, .25), q = (.5, .5):
    # KL(p || q) = .75 ln 1.5 + .25 ln .5 = 0.304099 - 0.173287 = 0.130812
    teacher = torch.tensor([[math.log(3), 0.0]], requires_grad=True)
    student = torch.zeros(1, 2, requires_grad=True)
    loss = TemporalDistillationLoss()(student, teacher)
    assert loss.item() == pytest.approx(0.130812, abs=1e-6)
    loss.backward()
    assert teacher.grad is None
    torch.testing.assert_close(student.grad, torch.tensor([[-0.25, 0.25]]))
    # T = 2, lambda = 0.5: 0.5 * 4 * KL(softmax(t / 2) || softmax(s / 2))
    p = F.softmax(teacher.detach() / 2, 1)
    expected = 2 * (p * (p.log() - math.log(0.5))).sum()
    got = TemporalDistillationLoss(2.0, 0.5)(student, teacher)
    torch.testing.assert_close(got, expected)
    with pytest.raises(ConfigValueError):
        TemporalDistillationLoss(temperature=0)


@pytest.mark.parametrize('k, branch', [(4, 0), (6, 1), (12, 2), (16, 2)])
def test_predict_routes_k_through_the_sweep_setter(model, k, branch):
    model.eval()
    # backbone and head; the recognizer and its loss hold no num_segments
    assert set_model_num_frames(model, k) == 2
    g = torch.Generator().manual_seed(k)
    inputs = torch.randn(2, k, 3, SIZE, SIZE, generator=g)
    with torch.no_grad():
        preds = model.predict(inputs, samples([0, 1]))
        expected = [
            F.softmax(logits(model, inputs, b, k), 1) for b in range(3)
        ]
    scores = torch.stack([p.pred_score for p in preds])
    for b in range(3):
        assert torch.allclose(scores, expected[b]) == (b == branch), b
    assert model.cls_head.num_segments == k  # restored after the call
    assert model.backbone.test_branch == branch


def test_predict_views_and_frame_count_fallback(model):
    model.eval()
    g = torch.Generator().manual_seed(5)
    inputs = torch.randn(1, 16, 3, SIZE, SIZE, generator=g)
    set_model_num_frames(model, 8)
    with torch.no_grad():
        # 16 frames at K=8: two 8-frame views, probabilities averaged
        two_views = model.predict(inputs, samples([0]))[0].pred_score
        views = [
            F.softmax(logits(model, v, 1, 8), 1)
            for v in inputs.split(8, dim=1)
        ]
        # 12 frames at K=8: not a multiple, so one 12-frame view (16F)
        single = model.predict(inputs[:, :12], samples([0]))[0].pred_score
        by_hand = F.softmax(logits(model, inputs[:, :12], 2, 12), 1)
    torch.testing.assert_close(two_views, (views[0] + views[1])[0] / 2)
    torch.testing.assert_close(single, by_hand[0])
    set_model_num_frames(model, 16)


def test_tsm_optimizer_constructor_groups(model):
    ctor = TSMOptimWrapperConstructor(
        dict(
            type='OptimWrapper',
            optimizer=dict(
                type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4
            ),
        ),
        dict(fc_lr5=True),
    )
    groups = ctor(model).optimizer.param_groups
    where = {}
    for group in groups:
        for p in group['params']:
            assert id(p) not in where  # each parameter in one group only
            where[id(p)] = (group['lr'], group['weight_decay'])
    params = dict(model.named_parameters())
    assert len(where) == len(params)
    assert where[id(params['cls_head.fc_cls.weight'])] == pytest.approx(
        (0.05, 5e-4)
    )
    assert where[id(params['cls_head.fc_cls.bias'])] == pytest.approx((0.1, 0))
    assert groups[0]['params'] == [params['backbone.conv1.weight']]
    assert where[
        id(params['backbone.layer1.0.adapter.2.weight'])
    ] == pytest.approx((0.01, 5e-4))
    assert where[
        id(params['backbone.layer3.0.downsample.bn.1.bias'])
    ] == pytest.approx((0.01, 0))


def test_resnet50_with_174_classes_adds_145600_parameters():
    ffn = build(depth=50, num_classes=174)
    tsm = MODELS.build(tsm_recognizer(depth=50, frames=16, num_classes=174))

    def count(m):
        return sum(p.numel() for p in m.parameters())

    # FFN.md 1.6: two more BN sets (2 x 53,120) + 3 x 13,120 adapters
    assert count(ffn) - count(tsm) == 145_600


@pytest.mark.parametrize(
    'cfg',
    [
        dict(neck=dict(type='TPN')),
        dict(backbone=dict(type='TSMResNet', depth=18)),
        dict(cls_head=None),
        dict(train_cfg=dict(fused='yes')),
        dict(train_cfg=dict(split_stages=True)),
        dict(train_cfg=dict(split_stages=3.0)),
        dict(train_cfg=dict(branch_stages=2)),
    ],
)
def test_bad_configs_raise(cfg):
    base = dict(
        type='FFNRecognizer',
        backbone=dict(type='FFNResNet', depth=18),
        cls_head=dict(type='TSMHead', num_classes=2, in_channels=512),
    )
    with pytest.raises(ConfigValueError):
        MODELS.build(dict(base, **cfg))


def test_train_step_from_a_synthetic_video_batch(synthetic_ssv2, model):
    """Pipeline -> preprocessor -> train_step: every parameter is trained."""
    pipeline = [
        TRANSFORMS.build(t)
        for t in ffn_train_pipeline(SIZE, ('frame_counts',))
    ]
    items = json.loads((synthetic_ssv2 / 'labels/train.json').read_text())
    batch = dict(inputs=[], data_samples=[])
    for label, item in enumerate(items[:2]):
        results = dict(
            filename=str(
                synthetic_ssv2
                / '20bn-something-something-v2'
                / f'{item["id"]}.webm'
            ),
            label=label,
            start_index=0,
            modality='RGB',
        )
        for t in pipeline:
            results = t(results)
        batch['inputs'].append(results['inputs'])
        batch['data_samples'].append(results['data_samples'])
    model = copy.deepcopy(model).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    losses = model.train_step(batch, optim)
    assert {'loss', 'loss_cls', 'loss_kl_8f', 'loss_kl_4f'} <= set(losses)
    assert torch.isfinite(losses['loss'])
    torch.testing.assert_close(
        losses['loss'],
        losses['loss_cls'] + losses['loss_kl_8f'] + losses['loss_kl_4f'],
    )
    unchanged = [
        n for n, p in model.named_parameters() if torch.equal(p, before[n])
    ]
    assert unchanged == []


@pytest.mark.parametrize(
    'train_cfg, message',
    [
        (
            dict(split_stages=5),
            'train_cfg split_stages must be an integer from 0 to 4, got 5$',
        ),
        (dict(fused=None), 'train_cfg fused must be True or False, got None$'),
        (
            dict(branch_stages=2),
            "train_cfg takes .* only, got 'branch_stages'",
        ),
    ],
)
def test_train_cfg_error_names_the_key_and_value(train_cfg, message):
    with pytest.raises(ConfigValueError, match=f'^FFNRecognizer {message}'):
        build(train_cfg=train_cfg)
