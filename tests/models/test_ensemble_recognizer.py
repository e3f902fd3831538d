"""EnsembleRecognizer: FFN's TSM-Ensemble, members built from configs and
checkpoints, predictions averaged, FLOPs and parameters summed."""

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import DEMO, one_thread_fixture, randomize, tsm_recognizer
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.evaluation.complexity import count_complexity
from tsm_plugin.models.ensemble_recognizer import EnsembleRecognizer
from tsm_plugin.models.frame_counts import frame_count

SIZE = 16  # px
COUNTS = (4, 16)  # the members' trained frame counts (TSM-ST's 4 and 16)
NUM_CLASSES = 8  # the demo config's

one_thread = one_thread_fixture('module')


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


def member_model(frames: int, seed: int):
    """The demo config's network (TSM-R18, 8 classes) at ``frames``, every
    weight random."""
    cfg = tsm_recognizer(18, frames, NUM_CLASSES)
    return randomize(MODELS.build(cfg), seed)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """``{frames: (path, state_dict)}``: one random TSM per count saved as
    a Runner checkpoint."""
    root = tmp_path_factory.mktemp('members')
    out = {}
    for seed, frames in enumerate(COUNTS):
        state = member_model(frames, seed).state_dict()
        path = root / f'tsm_{frames}f.pth'
        torch.save(dict(state_dict=state, meta=dict()), path)
        out[frames] = (str(path), state)
    return out


def specs(checkpoints):
    return [
        dict(
            config=DEMO,
            checkpoint=checkpoints[k][0],
            cfg_options=dict(num_frames=k),
        )
        for k in COUNTS
    ]


@pytest.fixture(scope='module')
def ensemble(checkpoints):
    model = MODELS.build(
        dict(type='EnsembleRecognizer', members=specs(checkpoints))
    )
    assert isinstance(model, EnsembleRecognizer)
    return model.eval()


def samples(n):
    return [ActionDataSample().set_gt_label(i) for i in range(n)]


def test_members_hold_their_checkpoints(ensemble, checkpoints):
    assert len(ensemble.members) == 2
    for member, k in zip(ensemble.members, COUNTS):
        saved = checkpoints[k][1]
        for key, value in member.state_dict().items():
            assert torch.equal(value, saved[key]), key
    # at the largest member count by default, all members with it
    assert ensemble.num_segments == 16
    assert {m.backbone.num_segments for m in ensemble.members} == {16}
    assert type(ensemble.data_preprocessor).__name__ == (
        'ChannelsLastActionDataPreprocessor'
    )


@pytest.mark.parametrize('k, views', [(4, 2), (8, 1)])
def test_pred_score_is_the_mean_of_the_members_softmax(ensemble, k, views):
    g = torch.Generator().manual_seed(k)
    clips = [
        torch.randint(0, 256, (views * k, 3, SIZE, SIZE), generator=g)
        for _ in range(2)
    ]
    with torch.no_grad(), frame_count(ensemble, k):
        assert {m.cls_head.num_segments for m in ensemble.members} == {k}
        out = ensemble.test_step(dict(inputs=clips, data_samples=samples(2)))
        members = [
            m.test_step(dict(inputs=clips, data_samples=samples(2)))
            for m in ensemble.members
        ]
    assert ensemble.num_segments == 16  # restored
    assert {m.backbone.num_segments for m in ensemble.members} == {16}
    scores = torch.stack([p.pred_score for p in out])
    each = torch.stack(
        [torch.stack([p.pred_score for p in ps]) for ps in members]
    )
    torch.testing.assert_close(scores, each.mean(0), rtol=1e-6, atol=0)
    torch.testing.assert_close(scores.sum(1), torch.ones(2))  # probabilities
    # the members disagree, so the mean is not any one member's
    assert all(not torch.allclose(scores, e, atol=1e-4) for e in each)
    labels = [p.pred_label.item() for p in out]
    assert labels == scores.argmax(1).tolist()


def test_logits_average(checkpoints):
    model = EnsembleRecognizer(specs(checkpoints)[:2], average='logits')
    model.eval()
    inputs = torch.randn(2, 8, 3, SIZE, SIZE)  # K=4: two views
    with torch.no_grad(), frame_count(model, 4):
        out = model.predict(inputs, samples(2))
        by_hand = []
        for m in model.members:
            raw, _ = m.extract_feat(inputs, stage='head', test_mode=True)
            by_hand.append(raw.view(2, 2, NUM_CLASSES).mean(1))
    scores = torch.stack([p.pred_score for p in out])
    torch.testing.assert_close(scores, torch.stack(by_hand).mean(0))
    assert not torch.allclose(scores.sum(1), torch.ones(2))  # not probs


def test_tensor_mode_runs_every_member(ensemble):
    inputs = torch.randn(1, 4, 3, SIZE, SIZE)
    with torch.no_grad(), frame_count(ensemble, 4):
        mean = ensemble(inputs, mode='tensor', stage='head')
        probs = [
            F.softmax(m(inputs, mode='tensor', stage='head'), 1)
            for m in ensemble.members
        ]
    torch.testing.assert_close(mean, torch.stack(probs).mean(0))


def test_flops_and_parameters_are_the_members_sum(ensemble):
    model = ensemble
    frames = [4, 8]
    total = count_complexity(model, frames, (SIZE, SIZE))
    parts = [count_complexity(m, frames, (SIZE, SIZE)) for m in model.members]
    for t in frames:
        assert total[t]['flops'] == sum(p[t]['flops'] for p in parts) > 0
        assert total[t]['params'] == sum(p[t]['params'] for p in parts)
    assert total[4]['flops'] * 2 == pytest.approx(total[8]['flops'], 0.01)
    params = sum(p.numel() for p in model.parameters())
    assert total[4]['params'] == params
    assert model.num_segments == 16  # restored


def test_built_members_and_their_preprocessor():
    built = [MODELS.build(tsm_recognizer(18, k)) for k in (4, 8)]
    model = EnsembleRecognizer(built)
    assert model.members[0] is built[0]
    assert model.num_segments == 8
    assert model.data_preprocessor is not built[0].data_preprocessor


def test_training_raises(ensemble):
    with pytest.raises(ConfigValueError, match='evaluation model'):
        ensemble.train_step(dict(inputs=[], data_samples=[]), None)
    with pytest.raises(ConfigValueError, match='evaluation model'):
        ensemble(torch.zeros(1, 4, 3, SIZE, SIZE), samples(1), mode='loss')


@pytest.mark.parametrize(
    'kwargs, error, message',
    [
        (dict(members=[]), ConfigValueError, 'non-empty list'),
        (dict(average='max'), ConfigValueError, 'average must be one of'),
        (
            dict(members=[dict(config=DEMO, weights='x.pth')]),
            ConfigValueError,
            "got 'weights'",
        ),
        (dict(members=[dict(checkpoint='x.pth')]), ConfigValueError, 'config'),
        (
            dict(members=[dict(config=DEMO, checkpoint='/no/such.pth')]),
            InputError,
            'checkpoint not found',
        ),
        (
            dict(members=[dict(config='/no/such/config.py')]),
            InputError,
            'config file not found',
        ),
    ],
)
def test_bad_members_raise(kwargs, error, message):
    args = {'members': [dict(config=DEMO)], **kwargs}
    with pytest.raises(error, match=message):
        EnsembleRecognizer(**args)


def test_a_checkpoint_of_another_model_is_refused(checkpoints):
    spec = dict(
        config=DEMO,
        checkpoint=checkpoints[4][0],
        cfg_options=dict(model=dict(cls_head=dict(num_classes=5))),
    )
    with pytest.raises(InputError, match='does not fit'):
        EnsembleRecognizer([spec])
