"""Foreign checkpoints built by the foreign models themselves (the TSM repo's
TSN, mmaction2's ResNetTSM) give the outputs of those models once loaded,
and a checkpoint that does not fill the model is refused in one line
naming the first key that does not fit."""

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401
from tests.helpers import one_thread_fixture, randomize, tsm_recognizer
from tests.models._foreign_models import (
    TSMRepoTSN,
    copy_by_position,
    mmaction2_tsm,
    tsm_repo_checkpoint,
    zoo_checkpoint,
)
from tsm_plugin.errors import InputError
from tsm_plugin.models.checkpoint_formats import plan_load

one_thread = one_thread_fixture('module')
FRAMES = 8


def ours(num_classes=5, depth=18, frames=FRAMES):
    init_default_scope('mmaction')
    return MODELS.build(
        tsm_recognizer(depth, frames, num_classes, average_clips='prob')
    ).eval()


def clip(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, FRAMES, 3, 32, 32, generator=g)


def logits(model, x):
    """The recognizer's class logits (averaged over the frames)."""
    with torch.no_grad():
        feats = model.backbone(x.reshape(-1, *x.shape[-3:]))
        return model.cls_head(feats, num_segs=x.shape[1])


def loaded(checkpoint, model=None):
    model = model or ours()
    plan = plan_load(checkpoint, model)
    model.load_state_dict(plan.state_dict, strict=True)
    return plan, model.eval()


def test_tsm_repo_checkpoint_computes_what_the_tsm_repo_computes():
    repo = randomize(TSMRepoTSN(num_class=5, num_segments=FRAMES))
    ckpt = tsm_repo_checkpoint(repo)
    assert 'module.base_model.layer1.0.conv1.net.weight' in ckpt['state_dict']
    assert 'module.new_fc.weight' in ckpt['state_dict']
    plan, model = loaded(ckpt)
    assert plan.source == 'tsm_repo'
    assert plan.summary().startswith('Checkpoint format: tsm_repo;')
    x = clip()
    with torch.no_grad():
        expected = repo(x)
    assert torch.equal(logits(model, x), expected)
    # and exactly what the same weights give in our own keys
    _, same = loaded(
        dict(state_dict=copy_by_position(ckpt['state_dict'], ours()))
    )
    assert torch.equal(logits(model, x), logits(same, x))


def test_mmaction2_zoo_checkpoint_computes_what_resnettsm_computes():
    zoo = randomize(mmaction2_tsm())
    plan, model = loaded(zoo_checkpoint(zoo))
    assert plan.source == 'mmaction2' and plan.fmt == 'ours'
    assert plan.summary().startswith('Checkpoint format: mmaction2;')
    x = clip()
    assert torch.equal(logits(model, x), logits(zoo, x))


@pytest.mark.parametrize(
    'build, model, first',
    [
        # class count: the head's shape
        (
            lambda: tsm_repo_checkpoint(TSMRepoTSN(7, FRAMES)),
            ours,
            'module.new_fc.weight (-> cls_head.fc_cls.weight) is [7, 512] '
            'in the checkpoint but [5, 512] in the model',
        ),
        # a TSN (no shift) where the model shifts
        (
            lambda: tsm_repo_checkpoint(TSMRepoTSN(5, FRAMES, shift=False)),
            ours,
            'module.base_model.layer1.0.conv1.weight: the checkpoint does '
            'not shift layer1.0, the model does',
        ),
        # the TSM repo's shift_place='block'
        (
            lambda: tsm_repo_checkpoint(TSMRepoTSN(5, FRAMES, place='block')),
            ours,
            'module.base_model.layer1.0.net.conv1.weight shifts the whole '
            'block (TSM shift_place=block)',
        ),
        # depth: an R-18 checkpoint for an R-50 config
        (
            lambda: zoo_checkpoint(mmaction2_tsm()),
            lambda: ours(depth=50),
            'backbone.layer1.0.conv1.conv.net.weight is [64, 64, 3, 3] in '
            'the checkpoint but [64, 64, 1, 1] in the model',
        ),
    ],
    ids=['classes', 'no-shift', 'block-shift', 'depth'],
)
def test_a_checkpoint_that_does_not_fit_is_one_line(build, model, first):
    with pytest.raises(InputError) as e:
        plan_load(build(), model(), 'x.pth')
    message = str(e.value)
    assert '\n' not in message
    assert message.startswith('x.pth (')
    assert first in message


def test_missing_and_unexpected_keys_are_named():
    state = ours().state_dict()
    state['backbone.extra.weight'] = torch.zeros(1)
    del state['cls_head.fc_cls.bias']
    with pytest.raises(InputError) as e:
        plan_load(dict(state_dict=state), ours(), 'y.pth')
    assert str(e.value) == (
        'y.pth (mmaction2 format) does not fit the model of the config: '
        '1 model keys missing, first cls_head.fc_cls.bias; 1 checkpoint '
        'keys unexpected, first backbone.extra.weight'
    )


def test_load_from_refuses_a_misfit_unless_strict_is_off(tmp_path):
    """The Runner's load_from (training and tools) goes through the hook;
    strict=False (fine-tuning to another class count) keeps what fits."""
    from mmengine.runner import Runner

    from tsm_plugin.engine.hooks import CheckpointFormatHook

    source = randomize(ours(num_classes=7))
    path = tmp_path / 'k7.pth'
    torch.save(dict(state_dict=source.state_dict()), path)

    def runner(strict, work):
        return Runner(
            model=ours(),
            work_dir=str(tmp_path / work),
            default_scope='mmaction',
            load_from=str(path),
            custom_hooks=[CheckpointFormatHook(strict=strict)],
        )

    with pytest.raises(InputError, match='cls_head.fc_cls.weight is'):
        runner(True, 'a').load_or_resume()
    loose = runner(False, 'b')
    loose.load_or_resume()
    model = loose.model
    conv = 'backbone.conv1.conv.weight'
    assert torch.equal(model.state_dict()[conv], source.state_dict()[conv])
    assert model.cls_head.fc_cls.weight.shape == (5, 512)
