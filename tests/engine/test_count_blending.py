"""FFN's Mixed and Proportional Sampling (count_blending), the
``train_frame_counts`` carry, and FlexibleRecognizer2D."""

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import DEMO, one_thread_fixture, tsm_recognizer
from tsm_plugin.engine.count_blending import (
    MixedSampling,
    ProportionalSampling,
)
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.models.flexible_recognizer import FlexibleRecognizer2D
from tsm_plugin.utils.config import load_config, set_data_root

one_thread = one_thread_fixture('module')


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


def batch(n=3, large=16, small=4):
    """``(n, large + small, 2, 2, 2)``: every value distinct, the small
    clip's far from the large clip's."""
    x = torch.arange(n * (large + small) * 8, dtype=torch.float32)
    x = x.view(n, large + small, 2, 2, 2)
    x[:, large:] = -1000 - x[:, large:]
    return x


def samples(n=3):
    return [ActionDataSample().set_gt_label(i) for i in range(n)]


def mixed_by_hand(x, lam, starts, large=16, small=4):
    out = x[:, :large].clone()
    for i, s in enumerate(starts):
        window = x[i, s : s + small]
        out[i, s : s + small] = lam * window + (1 - lam) * x[i, large:]
    return out


def test_mixed_rho_one_mixes_the_recorded_window_every_call():
    torch.manual_seed(0)
    blend = MixedSampling(rho=1.0)
    x, data = batch(), samples()
    starts_seen, lams = set(), set()
    for _ in range(20):
        out, back = blend(x, data)
        draw = blend.last_draw
        assert draw['applied'] and 0 <= draw['lam'] <= 1
        assert all(0 <= s <= 12 for s in draw['starts'])
        assert len(draw['starts']) == 3
        assert torch.equal(out, mixed_by_hand(x, draw['lam'], draw['starts']))
        assert back is data
        assert [d.gt_label.item() for d in back] == [0, 1, 2]
        starts_seen.update(draw['starts'])
        lams.add(draw['lam'])
    assert len(starts_seen) > 3 and len(lams) == 20  # drawn, not fixed


@pytest.mark.parametrize('lam', [0.0, 0.25, 1.0])
def test_mixed_fixed_lambda(lam):
    x = batch()
    blend = MixedSampling(rho=1.0, lam=lam, generator_seed=1)
    out, _ = blend(x, samples())
    starts = blend.last_draw['starts']
    assert blend.last_draw['lam'] == lam
    assert torch.equal(out, mixed_by_hand(x, lam, starts))
    for i, s in enumerate(starts):
        outside = torch.ones(16, dtype=torch.bool)
        outside[s : s + 4] = False
        assert torch.equal(out[i, outside], x[i, :16][outside])
        if lam == 0.0:  # the window is the small clip itself
            assert torch.equal(out[i, s : s + 4], x[i, 16:])


def test_mixed_rho_zero_is_always_the_large_clip():
    torch.manual_seed(0)
    blend = MixedSampling(rho=0.0)
    x = batch()
    for _ in range(20):
        out, _ = blend(x, samples())
        assert torch.equal(out, x[:, :16])
        assert blend.last_draw == dict(applied=False, lam=None, starts=[])


def test_mixed_rho_is_a_per_call_probability_and_reproducible():
    def draws(blend, calls=200):
        out = []
        for _ in range(calls):
            blend(batch(n=2), samples(2))
            out.append(dict(blend.last_draw))
        return out

    torch.manual_seed(5)
    first = draws(MixedSampling(rho=0.25, alpha=0.5))
    torch.manual_seed(5)
    again = draws(MixedSampling(rho=0.25, alpha=0.5))
    assert first == again
    rate = sum(d['applied'] for d in first) / len(first)
    assert 0.15 <= rate <= 0.35  # 0.25 +- 3.3 sd
    own = draws(MixedSampling(rho=0.25, generator_seed=3))
    torch.manual_seed(123)  # the global RNG does not matter
    assert draws(MixedSampling(rho=0.25, generator_seed=3)) == own


def test_proportional_follows_varrho_with_the_seed():
    torch.manual_seed(7)
    blend = ProportionalSampling(varrho=0.75)
    x = batch()
    chosen = []
    for _ in range(200):
        out, back = blend(x, samples())
        frames = blend.last_draw['frames']
        assert out.shape == (3, frames, 2, 2, 2)  # every sample one count
        expected = x[:, :16] if frames == 16 else x[:, 16:]
        assert torch.equal(out, expected)
        assert [d.gt_label.item() for d in back] == [0, 1, 2]
        chosen.append(frames)
    torch.manual_seed(7)
    reference = [16 if torch.rand(()) < 0.75 else 4 for _ in range(200)]
    assert chosen == reference
    assert 0.65 <= chosen.count(16) / 200 <= 0.85  # 0.75 +- 3.3 sd


@pytest.mark.parametrize('varrho, frames', [(0.0, 4), (1.0, 16)])
def test_proportional_extremes(varrho, frames):
    blend = ProportionalSampling(varrho=varrho, frame_counts=(4, 16))
    for _ in range(30):
        out, _ = blend(batch(), samples())
        assert out.shape[1] == frames


def test_network_frames():
    assert MixedSampling(rho=0.75).network_frames == 16
    assert ProportionalSampling(varrho=0.5).network_frames == 10
    assert ProportionalSampling(0.75, (8, 2)).network_frames == 6.5


@pytest.mark.parametrize(
    'build, message',
    [
        (lambda: MixedSampling(rho=1.5), 'rho must be in'),
        (lambda: MixedSampling(rho=None), 'rho must be in'),
        (lambda: MixedSampling(alpha=0), 'alpha must be > 0'),
        (lambda: MixedSampling(lam=2.0), 'lam must be in'),
        (lambda: MixedSampling(frame_counts=(16, 8, 4)), 'exactly two'),
        (lambda: MixedSampling(frame_counts=(4, 4)), 'repeat'),
        (lambda: ProportionalSampling(varrho=-0.1), 'varrho must be in'),
        (lambda: ProportionalSampling(frame_counts=(16,)), 'exactly two'),
    ],
)
def test_bad_arguments_raise(build, message):
    with pytest.raises(ConfigValueError, match=message):
        build()


def test_wrong_input_frames_name_the_expected_shape():
    for blend in (MixedSampling(), ProportionalSampling()):
        with pytest.raises(ValueError, match=r'\(N, 20, C, H, W\)'):
            blend(torch.zeros(2, 16, 3, 4, 4), samples(2))


def test_preprocessor_blends_in_training_only():
    pre = MODELS.build(
        dict(
            type='ChannelsLastActionDataPreprocessor',
            mean=[0.0] * 3,
            std=[1.0] * 3,
            format_shape='NCHW',
            blending=dict(type='MixedSampling', rho=1.0, lam=0.5),
        )
    )
    clips = [torch.randint(0, 255, (20, 3, 4, 4)).float() for _ in range(2)]
    data = dict(inputs=clips, data_samples=samples(2))
    trained = pre(dict(data), training=True)['inputs']
    assert trained.shape == (2, 16, 3, 4, 4)
    assert pre(dict(data), training=False)['inputs'].shape[1] == 20


def write_config(tmp_path, body: str) -> str:
    path = tmp_path / 'blended.py'
    path.write_text(f'_base_ = [{DEMO!r}]\n{body}')
    return str(path)


def training_sampler(cfg):
    return cfg.train_dataloader.dataset.pipeline[1]


def test_train_frame_counts_reach_the_sampler_and_the_blending(tmp_path):
    path = write_config(
        tmp_path,
        'train_frame_counts = (4, 16)\n'
        'model = dict(data_preprocessor=dict(blending=dict('
        "type='MixedSampling', rho=0.5)))\n",
    )
    cfg = load_config(path)
    assert dict(training_sampler(cfg)) == dict(
        type='MultiCountSampleFrames', frame_counts=(16, 4)
    )
    assert cfg.model.data_preprocessor.blending.frame_counts == (16, 4)
    assert cfg.val_dataloader.dataset.pipeline[1].type == 'SegmentSampleFrames'
    assert cfg.test_dataloader.dataset.pipeline[1].num_clips == 16
    assert 'frame_counts' not in cfg.model.backbone  # a TSM stays a TSM
    assert cfg.model.backbone.num_segments == 16
    cfg = load_config(path, dict(train_frame_counts=[8, 2]))
    assert training_sampler(cfg).frame_counts == (8, 2)
    assert cfg.model.data_preprocessor.blending.frame_counts == (8, 2)
    with pytest.raises(ConfigValueError, match='train_frame_counts'):
        load_config(path, dict(train_frame_counts=[4, 0]))


def test_flexible_recognizer_trains_each_count_and_restores():
    torch.manual_seed(0)
    cfg = tsm_recognizer(depth=18, frames=16, dropout_ratio=0.0)
    model = MODELS.build(dict(cfg, type='FlexibleRecognizer2D'))
    assert isinstance(model, FlexibleRecognizer2D)
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    for frames in (4, 16):
        seen = []
        hook = model.cls_head.register_forward_hook(
            lambda m, args, out: seen.append((m.num_segments, out.shape))
        )
        data = dict(
            inputs=[torch.rand(frames, 3, 8, 8) * 255 for _ in range(2)],
            data_samples=samples(2),
        )
        losses = model.train_step(data, optim)
        hook.remove()
        assert torch.isfinite(losses['loss'])
        # one clip of `frames` per sample: two rows of scores
        assert seen == [(frames, torch.Size([2, 5]))]
        assert model.backbone.num_segments == 16
        assert model.cls_head.num_segments == 16


def test_proportional_config_trains_on_synthetic_videos(
    synthetic_ssv2, tmp_path
):
    """Real pipeline (one decode of 16 + 4 frames) -> blending ->
    FlexibleRecognizer2D, at each count."""
    path = write_config(
        tmp_path,
        'train_frame_counts = (16, 4)\n'
        "model = dict(type='FlexibleRecognizer2D', data_preprocessor=dict("
        "blending=dict(type='ProportionalSampling')))\n",
    )
    cfg = load_config(path)
    set_data_root(cfg, str(synthetic_ssv2))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = pseudo_collate([dataset[0], dataset[1]])
    assert data['inputs'][0].shape[0] == 20
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    blend = model.data_preprocessor.blending
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    for varrho, frames in ((0.0, 4), (1.0, 16)):
        blend.varrho = varrho
        losses = model.train_step(dict(data), optim)
        assert blend.last_draw == dict(frames=frames)
        assert torch.isfinite(losses['loss'])
    assert model.backbone.num_segments == 16
