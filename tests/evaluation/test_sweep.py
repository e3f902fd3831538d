"""The TFD sweep: the frame count set on a built model (and restored), and
the sweep against tools/test.py at every frame count, on both decoding
paths."""

import pytest
import torch

from tests.helpers import tiny_cfg
from tests.tfd_fixtures import CROP, FRAMES, TRAINED
from tsm_plugin.evaluation import run_sweep
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
