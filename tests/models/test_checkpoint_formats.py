"""Foreign checkpoints: the TSM repo's, the FFN repo's and a TSM into an FFN
(warm start), built from models with known weights and loaded back; the
outputs must be identical. The foreign keys are written here from the
repos' layouts (DataParallel ``module.base_model.``, ``conv1.net``,
``bn1_<frames>``, ``adaconv_<frames>``, ``downsample_conv``/``_bn_<frames>``,
``new_fc``), independently of the code under test."""

import re

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401
from tests.helpers import one_thread_fixture, randomize, tsm_recognizer
from tests.models._foreign_models import to_torchvision
from tsm_plugin.apis import convert_checkpoint as convert_api
from tsm_plugin.engine.checkpoint import load_checkpoint_file
from tsm_plugin.models.checkpoint_formats import convert, recognise

one_thread = one_thread_fixture('module')
COUNTS = (4, 8, 16)
HEAD = dict(
    type='TSMHead', num_classes=5, in_channels=512, average_clips='prob'
)
PRE = dict(
    type='ActionDataPreprocessor',
    mean=[128] * 3,
    std=[64] * 3,
    format_shape='NCHW',
)


def tsm(frames=8):
    init_default_scope('mmaction')
    return MODELS.build(
        dict(
            tsm_recognizer(frames=frames, average_clips='prob'),
            data_preprocessor=PRE,
        )
    )


def ffn():
    init_default_scope('mmaction')
    return MODELS.build(
        dict(
            type='FFNRecognizer',
            data_preprocessor=PRE,
            backbone=dict(
                type='FFNResNet',
                depth=18,
                frame_counts=COUNTS,
                num_segments=16,
            ),
            cls_head=dict(HEAD, num_segments=16),
        )
    )


def tsm_repo_keys(state):
    """Our TSM keys as mit-han-lab/temporal-shift-module's main.py saves."""
    out = {}
    for k, v in state.items():
        if k.startswith('cls_head.fc_cls.'):
            out['module.new_fc.' + k.rsplit('.', 1)[1]] = v
            continue
        name = to_torchvision(k[len('backbone.') :])
        name = re.sub(r'^(layer\d\.\d+\.conv1)\.', r'\1.net.', name)
        out['module.base_model.' + name] = v
    return dict(epoch=45, arch='resnet50', best_prec1=61.2, state_dict=out)


def ffn_repo_keys(state):
    """Our FFN keys as BeSpontaneous/FFN-pytorch's main_FFN.py saves."""
    out = {}
    for k, v in state.items():
        if k.startswith('cls_head.fc_cls.'):
            out['module.new_fc.' + k.rsplit('.', 1)[1]] = v
            continue
        name = k[len('backbone.') :]
        name = name.replace('downsample.conv.', 'downsample_conv.')
        name = re.sub(
            r'downsample\.bn\.(\d)\.',
            lambda m: f'downsample_bn_{COUNTS[int(m[1])]}.',
            name,
        )
        name = re.sub(
            r'(^|\.)(bn\d)\.(\d)\.',
            lambda m: f'{m[1]}{m[2]}_{COUNTS[int(m[3])]}.',
            name,
        )
        name = re.sub(
            r'adapter\.(\d)\.', lambda m: f'adaconv_{COUNTS[int(m[1])]}.', name
        )
        out['module.base_model.' + name] = v
    return dict(epoch=50, arch='resnet50', state_dict=out)


def clip(frames, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, frames, 3, 32, 32, generator=g)


def scores(model, x, frames):
    model.backbone.num_segments = frames
    with torch.no_grad():
        return model(x, mode='tensor')


def test_tsm_repo_checkpoint_gives_identical_outputs():
    source = randomize(tsm())
    ckpt = tsm_repo_keys(source.state_dict())
    assert recognise(ckpt['state_dict']) == 'tsm_repo'
    target = tsm()
    state, missing, unused = convert(ckpt['state_dict'], target)
    assert missing == [] and unused == []
    target.load_state_dict(state, strict=False)
    target.eval()
    x = clip(8)
    assert torch.equal(scores(target, x, 8), scores(source, x, 8))


def test_ffn_repo_checkpoint_gives_identical_outputs():
    source = randomize(ffn())
    ckpt = ffn_repo_keys(source.state_dict())
    assert recognise(ckpt['state_dict']) == 'ffn_repo'
    target = ffn()
    state, missing, unused = convert(ckpt['state_dict'], target)
    assert missing == [] and unused == []
    target.load_state_dict(state, strict=False)
    target.eval()
    for frames in COUNTS:
        x = clip(frames)
        assert torch.equal(
            scores(target, x, frames), scores(source, x, frames)
        ), frames


def test_tsm_warm_starts_every_ffn_branch():
    source = randomize(tsm())
    target = ffn()
    target.init_weights()  # zero adapters: identity
    state, missing, _ = convert(source.state_dict(), target)
    assert recognise(source.state_dict()) == 'ours' and missing == []
    target.load_state_dict(state, strict=False)
    target.eval()
    for frames in COUNTS:
        x = clip(frames)
        torch.testing.assert_close(
            scores(target, x, frames), scores(source, x, frames)
        )


def test_converter_round_trip_and_one_line_error(tmp_path, capsys):
    source = randomize(ffn())
    src = tmp_path / 'ffn_official.pth.tar'
    torch.save(ffn_repo_keys(source.state_dict()), src)
    cfg = tmp_path / 'ffn.py'
    cfg.write_text(
        f'default_scope = "mmaction"\nmodel = {dict(ffn_model_cfg())!r}\n'
    )
    dst = tmp_path / 'ours.pth'
    assert convert_api.main([str(cfg), str(src), str(dst)]) == 0
    saved = load_checkpoint_file(str(dst))
    assert saved['meta']['source_format'] == 'ffn_repo'
    target = ffn()
    target.load_state_dict(saved['state_dict'], strict=True)
    target.eval()
    x = clip(8)
    assert torch.equal(scores(target, x, 8), scores(source, x, 8))
    capsys.readouterr()
    assert (
        convert_api.main([str(cfg), str(tmp_path / 'no.pth'), str(dst)]) == 2
    )
    assert capsys.readouterr().err == (
        f'error: checkpoint not found: {tmp_path / "no.pth"}\n'
    )


def ffn_model_cfg():
    return dict(
        type='FFNRecognizer',
        data_preprocessor=PRE,
        backbone=dict(
            type='FFNResNet', depth=18, frame_counts=COUNTS, num_segments=16
        ),
        cls_head=dict(HEAD, num_segments=16),
    )


@pytest.mark.parametrize('fmt', ['tsm_repo', 'ffn_repo'])
def test_the_runner_loads_foreign_checkpoints(tmp_path, fmt):
    """load_from / tools/test.py: the CheckpointFormatHook converts."""
    from mmengine.runner import Runner

    from tsm_plugin.engine.hooks import CheckpointFormatHook

    source = randomize(tsm() if fmt == 'tsm_repo' else ffn())
    keys = tsm_repo_keys if fmt == 'tsm_repo' else ffn_repo_keys
    path = tmp_path / 'foreign.pth'
    torch.save(keys(source.state_dict()), path)
    model = tsm() if fmt == 'tsm_repo' else ffn()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path / 'w'),
        default_scope='mmaction',
        custom_hooks=[CheckpointFormatHook()],
    )
    runner.load_checkpoint(str(path))
    x = clip(8)
    assert torch.equal(scores(runner.model.eval(), x, 8), scores(source, x, 8))
