"""TFD evaluation: the frame-count override, the decode-once sweep, the hook,
the CLI and its outputs (tfd.json / tfd.md / tfd.png).

A tiny R-18 TSM (32 px, trained at 8 frames for one epoch on 4 synthetic
videos, TFDEvalHook on) is built once per module from the demo config.
"""
import copy
import json
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tsm_plugin.apis import eval_tfd as eval_api
from tsm_plugin.apis import test as test_api
from tsm_plugin.utils.config import (iter_datasets, load_config,
                                    set_data_root, set_epochs,
                                    set_loader_option, set_num_frames)
from tsm_plugin.errors import InputError
from tsm_plugin.evaluation import (MultiFrameTestSample, markdown_table,
                                   run_sweep, set_model_num_frames,
                                   write_report)

REPO = Path(__file__).resolve().parents[1]
RECIPE = str(REPO / 'configs' / 'tsm_r50_16f_ssv2.py')
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')
TRAINED = 8
FRAMES = (2, 4, 8)
CROP = 32


def tiny_cfg(data_root, work_dir):
    """The demo config, CPU-test sized: 32 px, 8 frames, batch 2, 1 epoch."""
    cfg = load_config(DEMO)
    set_data_root(cfg, str(data_root))
    set_loader_option(cfg, 'batch_size', 2)
    set_loader_option(cfg, 'num_workers', 0)
    set_num_frames(cfg, TRAINED)
    set_epochs(cfg, 1)
    for ds in iter_datasets(cfg):
        for t in ds.pipeline:
            if t.type == 'Resize':
                t.scale = (CROP, CROP) if not t.get('keep_ratio', True) \
                    else (-1, CROP + 4)
            elif t.type == 'CenterCrop':
                t.crop_size = CROP
            elif t.type == 'MultiScaleCrop':
                t.input_size = CROP
    cfg.train_dataloader.dataset.indices = 4  # 2 iterations
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.tfd.frames = FRAMES
    for name in ('non_finite_loss', 'preemption', 'skipped_videos',
                 'eval_autocast'):  # the TFD hook alone, as before
        cfg.default_hooks.pop(name)
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread: tiny convs gain nothing from two, and on a busy
    2-core machine OpenMP's waiting threads made them ~30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def trained(synthetic_ssv2, tmp_path_factory):
    """One epoch with the hook: (config file, checkpoint, hook, work dir)."""
    from mmengine.runner import Runner
    work = tmp_path_factory.mktemp('tfd_run')
    cfg = tiny_cfg(synthetic_ssv2, work)
    cfg_file = work / 'tiny.py'
    cfg.dump(str(cfg_file))
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'TFDEvalHook')
    return dict(cfg=cfg, cfg_file=str(cfg_file),
                ckpt=str(work / 'epoch_1.pth'), hook=hook, work=work)


@pytest.fixture(scope='module')
def test_runs(trained, tmp_path_factory):
    """tools/test.py's body at each frame count: metrics and dumped scores.

    At the trained count it runs without --num-frames (the plain command).
    """
    out = {}
    for t in FRAMES:
        work = tmp_path_factory.mktemp(f'test_{t}f')
        argv = [trained['cfg_file'], trained['ckpt'], '--work-dir', str(work),
                '--dump', str(work / 'scores.pkl')]
        if t != TRAINED:
            argv += ['--num-frames', str(t)]
        metrics = test_api.test(test_api.build_parser().parse_args(argv))
        with open(work / 'scores.pkl', 'rb') as f:
            scores = torch.stack([d['pred_score'] for d in pickle.load(f)])
        out[t] = dict(metrics=metrics, scores=scores)
    return out


# -- the frame-count override ----------------------------------------------

def _frame_settings(cfg):
    samplers = [t.num_clips for ds in iter_datasets(cfg)
                for t in ds.pipeline if 'num_clips' in t]
    return (cfg.model.backbone.num_segments, cfg.model.cls_head.num_segments,
            samplers)


def test_set_num_frames_changes_all_three_settings_together():
    cfg = load_config(RECIPE)
    assert _frame_settings(cfg) == (16, 16, [16, 16, 16])
    set_num_frames(cfg, 4)
    assert _frame_settings(cfg) == (4, 4, [4, 4, 4])
    assert cfg.num_frames == 4
    # nothing else moved
    assert cfg.model.cls_head.num_classes == 174
    assert cfg.test_dataloader.dataset.pipeline[1].test_mode is True
    with pytest.raises(InputError, match='>= 1, got 0'):
        set_num_frames(cfg, 0)


def test_tools_test_num_frames_goes_through_the_same_override(tmp_path):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    args = test_api.build_parser().parse_args(
        [RECIPE, str(ckpt), '--num-frames', '12'])
    cfg = test_api.merge_args(load_config(RECIPE), args)
    assert _frame_settings(cfg) == (12, 12, [12, 12, 12])
    args.num_frames = 0
    with pytest.raises(InputError, match='--num-frames must be >= 1, got 0'):
        test_api.merge_args(load_config(RECIPE), args)


def test_model_frame_count_is_set_on_the_built_model(synthetic_ssv2,
                                                    tmp_path):
    """Same weights at 4 frames == a model built at 4 frames."""
    from mmengine.registry import init_default_scope
    from mmaction.registry import MODELS
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


# -- decode once ----------------------------------------------------------

def test_multi_frame_sample_decodes_once_and_equals_plain_pipeline(
        synthetic_ssv2, tmp_path):
    from mmengine.registry import init_default_scope
    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    cfg = tiny_cfg(synthetic_ssv2, tmp_path)
    ds_cfg = cfg.test_dataloader.dataset
    sample = MultiFrameTestSample(ds_cfg.pipeline, FRAMES)
    requested = []
    decode = sample.decode[-1]

    def counting_decode(results):
        requested.append(np.asarray(results['frame_inds']).copy())
        return decode(results)

    sample.decode[-1] = counting_decode
    dataset = DATASETS.build(dict(ds_cfg, pipeline=[sample]))
    item = dataset[0]
    assert sorted(item) == list(FRAMES)
    assert len(requested) == 1, 'one decode for all frame counts'
    opened = dataset.get_data_info(0)
    for t in sample.before:
        opened = t(opened)
    total = opened['total_frames']
    # the centre of each segment, all frame counts together, each once
    want = sorted({math.floor(total / t * (i + 0.5))
                   for t in FRAMES for i in range(t)})
    assert requested[0].tolist() == want
    for t in FRAMES:
        cfg_t = copy.deepcopy(cfg)
        set_num_frames(cfg_t, t)
        plain = DATASETS.build(cfg_t.test_dataloader.dataset)[0]
        assert item[t]['inputs'].shape == (t, 3, CROP, CROP)
        assert torch.equal(item[t]['inputs'], plain['inputs'])
        assert torch.equal(item[t]['data_samples'].gt_label,
                           plain['data_samples'].gt_label)


# -- the sweep against tools/test.py ----------------------------------------

@pytest.mark.parametrize('decode_once', [True, False])
def test_sweep_equals_tools_test_at_every_frame_count(trained, test_runs,
                                                       decode_once, tmp_path):
    report = run_sweep(load_config(trained['cfg_file']), trained['ckpt'],
                       FRAMES, decode_once=decode_once, work_dir=str(tmp_path),
                       keep_scores=True)
    assert report['trained_frames'] == TRAINED
    assert [r['frames'] for r in report['results']] == list(FRAMES)
    for row in report['results']:
        ref = test_runs[row['frames']]
        assert row['top1'] == ref['metrics']['acc/top1']
        assert row['top5'] == ref['metrics']['acc/top5']
        assert row['mean1'] == ref['metrics']['acc/mean1']
        torch.testing.assert_close(row['scores'], ref['scores'],
                                   rtol=0, atol=0)
    by_t = {r['frames']: r['scores'] for r in report['results']}
    assert not torch.equal(by_t[2], by_t[TRAINED]), 'frame count had effect'


def test_hook_sweeps_the_final_weights(trained, test_runs):
    hook, work = trained['hook'], trained['work']
    report = hook.report
    assert report['epoch'] == 1 and report['trained_frames'] == TRAINED
    for row in report['results']:
        assert row['top1'] == test_runs[row['frames']]['metrics']['acc/top1']
    saved = json.loads((work / 'tfd_final' / 'tfd.json').read_text())
    assert [r['frames'] for r in saved['results']] == list(FRAMES)
    run = sorted(p.parent for p in work.glob('*/*.log'))[0]  # training's
    log = (run / f'{run.name}.log').read_text()
    assert 'TFD of the final weights (epoch 1)' in log
    for line in markdown_table(report).splitlines():
        assert line in log
    scalars = [json.loads(line) for line in
               (run / 'vis_data' / 'scalars.json').read_text().splitlines()]
    tfd = next(s for s in scalars if 'tfd/top1_8f' in s)
    assert tfd['tfd/top1_2f'] == report['results'][0]['top1']


# -- CLI and outputs -------------------------------------------------------

def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR'
    return struct.unpack('>II', data[16:24])


def test_cli_prints_table_and_writes_outputs(trained, test_runs, tmp_path,
                                            capsys):
    out = tmp_path / 'tfd'
    rc = eval_api.main([trained['cfg_file'], trained['ckpt'], '--frames',
                        '8', '2', '8', '--out', str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / 'tfd.json').read_text())
    assert saved['trained_frames'] == TRAINED
    assert saved['checkpoint'] == trained['ckpt']
    assert saved['decode_once'] is True
    rows = saved['results']
    assert [r['frames'] for r in rows] == [2, 8]  # sorted, deduplicated
    for r in rows:
        assert set(r) >= {'frames', 'top1', 'top5', 'num_videos',
                          'trained_frames'}
        assert r['trained_frames'] == TRAINED
        assert r['num_videos'] == len(test_runs[r['frames']]['scores'])
        # exactly tools/test.py's numbers (8: the plain command)
        assert r['top1'] == test_runs[r['frames']]['metrics']['acc/top1']
    table = (out / 'tfd.md').read_text().strip()
    assert table in printed
    assert f'TFD plot:  {out / "tfd.png"}' in printed
    assert _png_size(out / 'tfd.png') == (600, 400)


FFN = dict(trained_frames=16, decode_once=True, results=[
    dict(frames=4, top1=0.3152, top5=0.6, num_videos=24777,
         trained_frames=16),
    dict(frames=8, top1=0.5155, top5=0.8, num_videos=24777,
         trained_frames=16),
    dict(frames=16, top1=0.6102, top5=0.87, num_videos=24777,
         trained_frames=16, scores=torch.zeros(1))])


def test_report_files_from_known_numbers(tmp_path):
    paths = write_report(FFN, str(tmp_path))
    assert markdown_table(FFN).splitlines() == [
        '| frames | top-1 (%) | top-5 (%) | top-1 vs 16 f | videos |',
        '|---:|---:|---:|---:|---:|',
        '| 4 | 31.52 | 60.00 | -29.50 | 24777 |',
        '| 8 | 51.55 | 80.00 | -9.47 | 24777 |',
        '| 16 (trained) | 61.02 | 87.00 | +0.00 | 24777 |']
    saved = json.loads(Path(paths['json']).read_text())
    assert saved['trained_frames'] == 16
    assert saved['results'][0] == FFN['results'][0]
    assert 'scores' not in saved['results'][2]  # tensors stay out
    assert math.isclose(saved['results'][2]['top1'], 0.6102)
    assert Path(paths['md']).read_text().startswith('| frames |')
    assert _png_size(paths['png']) == (600, 400)


def test_user_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / 'none.pth'
    assert eval_api.main([RECIPE, str(missing)]) == 2
    assert capsys.readouterr().err == (
        f'error: checkpoint not found: {missing}\n')
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    assert eval_api.main([RECIPE, str(ckpt), '--frames', '0', '4']) == 2
    assert capsys.readouterr().err == (
        'error: --frames: frame counts must be >= 1, got 0\n')
    assert test_api.main([RECIPE, str(ckpt), '--num-frames', '0']) == 2
    assert capsys.readouterr().err == (
        'error: --num-frames must be >= 1, got 0\n')
    assert not (tmp_path / 'tfd').exists()  # nothing written on bad input
