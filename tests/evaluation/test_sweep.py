"""The TFD sweep: the frame count set on a built model (and restored), the
sweep against tools/test.py at every frame count, on both decoding paths,
and several models in one pass against one sweep per model."""

import json

import pytest
import torch

from tests.helpers import REPO, tiny_cfg
from tests.tfd_fixtures import CROP, FRAMES, TRAINED
from tsm_plugin.evaluation import run_sweep, sweep_model, sweep_models
from tsm_plugin.models.frame_counts import frame_count, set_model_num_frames
from tsm_plugin.utils.config import load_config, set_num_frames


def test_model_frame_count_is_set_on_the_built_model(synthetic_ssv2, tmp_path):
    """Same weights at 4 frames == a model built at 4 frames."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    cfg = tiny_cfg(synthetic_ssv2, tmp_path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.init_weights()
    set_num_frames(cfg, 4)
    fresh = MODELS.build(cfg.model).eval()
    fresh.load_state_dict(model.state_dict())
    assert set_model_num_frames(model, 4) >= 2  # backbone and head at least
    assert model.backbone.num_segments == model.cls_head.num_segments == 4
    x = torch.randn(2, 4, 3, CROP, CROP)
    with torch.no_grad():
        got = model(x, mode='tensor')
        want = fresh(x, mode='tensor')
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(ValueError, match='no num_segments'):
        set_model_num_frames(torch.nn.Linear(2, 2), 4)


def test_frame_count_sets_for_the_block_and_restores(synthetic_ssv2, tmp_path):
    """with frame_count(model, T): every num_segments is T inside (a model
    wrapper is unwrapped), each module's own value after, error or not."""
    from mmaction.registry import MODELS
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    model = MODELS.build(tiny_cfg(synthetic_ssv2, tmp_path).model)
    model.cls_head.num_segments = 3  # its own value, not the backbone's

    def settings():
        return [
            m.num_segments
            for m in model.modules()
            if hasattr(m, 'num_segments')
        ]

    before = settings()
    assert before[:2] == [TRAINED, TRAINED] and before[-1] == 3
    with frame_count(model, 4):
        assert set(settings()) == {4}
    assert settings() == before
    with pytest.raises(RuntimeError, match='inside'):
        with frame_count(model, 2):
            raise RuntimeError('inside')
    assert settings() == before
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    torch.nn.Module.__init__(wrapper)
    wrapper.module = model
    with frame_count(wrapper, 4):
        assert set(settings()) == {4}
    assert settings() == before
    with pytest.raises(ValueError, match='num_segments must be >= 1'):
        with frame_count(model, 0):
            pass
    assert settings() == before
    with pytest.raises(ValueError, match='no num_segments'):
        with frame_count(torch.nn.Linear(2, 2), 4):
            pass


@pytest.mark.parametrize('decode_once', [True, False])
def test_sweep_equals_tools_test_at_every_frame_count(
    trained, tools_test_runs, decode_once, tmp_path
):
    report = run_sweep(
        load_config(trained['cfg_file']),
        trained['ckpt'],
        FRAMES,
        decode_once=decode_once,
        work_dir=str(tmp_path),
        keep_scores=True,
    )
    assert report['trained_frames'] == TRAINED
    assert [r['frames'] for r in report['results']] == list(FRAMES)
    for row in report['results']:
        ref = tools_test_runs[row['frames']]
        assert row['top1'] == ref['metrics']['acc/top1']
        assert row['top5'] == ref['metrics']['acc/top5']
        assert row['mean1'] == ref['metrics']['acc/mean1']
        torch.testing.assert_close(
            row['scores'], ref['scores'], rtol=0, atol=0
        )
    by_t = {r['frames']: r['scores'] for r in report['results']}
    assert not torch.equal(by_t[2], by_t[TRAINED]), 'frame count had effect'


SWEPT = (2, 4)  # the multi-model test's frame counts
NO_TIME = ('seconds',)  # of the whole pass: the one key that differs


@pytest.fixture(scope='module')
def two_models(synthetic_ssv2, tmp_path_factory):
    """A TSM (the tiny config's, 16 px, trained at 8) and an FFN
    (frame counts 4/8/16) from scratch, and the TSM's config on its first 4
    test videos."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    work = tmp_path_factory.mktemp('sweep_models')
    cfg = tiny_cfg(synthetic_ssv2, work, frames=TRAINED, crop=16)
    cfg.test_dataloader.dataset.indices = 4
    ffn_cfg = load_config(str(REPO / 'configs' / 'ffn_demo_synthetic.py'))
    ffn_cfg.model.backbone.pretrained = None
    torch.manual_seed(0)
    models = dict(tsm=MODELS.build(cfg.model), ffn=MODELS.build(ffn_cfg.model))
    return models, cfg


def _count_decodes(monkeypatch) -> list:
    """Make VideoDecode record each call (a decoding of one video)."""
    from tsm_plugin.datasets.transforms import VideoDecode

    calls = []
    transform = VideoDecode.transform

    def counting(self, results):
        calls.append(results['filename'])
        return transform(self, results)

    monkeypatch.setattr(VideoDecode, 'transform', counting)
    return calls


def _assert_same_report(got: dict, want: dict, skip=NO_TIME) -> None:
    assert set(got) == set(want)
    for key in set(want) - {'results', *skip}:
        assert got[key] == want[key], key
    for row, ref in zip(got['results'], want['results'], strict=True):
        assert set(row) == set(ref)
        row, ref = ({k: r[k] for k in set(r) - set(skip)} for r in (row, ref))
        torch.testing.assert_close(row, ref, rtol=0, atol=0)


def test_sweep_models_equals_one_sweep_per_model_decoding_once(
    two_models, monkeypatch, tmp_path
):
    """Two models of two classes in one pass: each video decoded once for
    both models and both counts; each report equals sweep_model's for that
    model alone (the FFN's trained counts read from the model)."""
    models, cfg = two_models
    decodes = _count_decodes(monkeypatch)
    flops = tmp_path / 'flops.json'
    reports = sweep_models(
        models, cfg, SWEPT, keep_scores=True, flop_cache=str(flops)
    )
    assert list(reports) == ['tsm', 'ffn'] and len(decodes) == 4
    assert len(set(decodes)) == 4  # one decoding per video
    alone = {  # FLOPs from the cache the pass filled: traced once
        name: sweep_model(
            model, cfg, SWEPT, keep_scores=True, flop_cache=str(flops)
        )
        for name, model in models.items()
    }
    assert len(decodes) == 12
    _assert_same_report(reports['tsm'], alone['tsm'])
    trained = ('trained_frames', 'trained_counts')
    _assert_same_report(reports['ffn'], alone['ffn'], NO_TIME + trained)
    assert alone['ffn']['trained_counts'] == [TRAINED]  # the config's
    assert reports['ffn']['trained_counts'] == [4, 8, 16]  # the model's
    assert reports['ffn']['trained_frames'] == 16
    assert reports['tsm']['trained_counts'] == [TRAINED]
    tsm, ffn = (reports[n]['results'][0] for n in ('tsm', 'ffn'))
    assert tsm['gflops'] > 0 and tsm['gflops'] != ffn['gflops']
    assert not torch.equal(tsm['scores'], ffn['scores'])
    assert len(json.loads(flops.read_text())['entries']) == 4
    assert all(m.training for m in models.values())  # restored
    assert models['tsm'].backbone.num_segments == TRAINED
    # Separate evaluations, no FLOP count, trained counts given.
    separate = sweep_models(
        models,
        cfg,
        SWEPT[:1],
        decode_once=False,
        keep_scores=True,
        complexity=False,
        trained=dict(ffn=(8, 4)),
    )
    assert len(decodes) == 16  # 4 videos at one count, both models
    for name, report in separate.items():
        row = report['results'][0]
        assert 'gflops' not in row and 'params_m' not in row
        assert 'complexity_input' not in report
        want = reports[name]['results'][0]['scores']
        torch.testing.assert_close(row['scores'], want, rtol=0, atol=0)
    assert separate['ffn']['trained_counts'] == [4, 8]
    assert separate['ffn']['trained_frames'] == 8
