"""tools/benchmark.py: the timing helpers, the stock pipelines it compares
against, and each mode end to end on tiny settings (real models, real
videos from the synthetic set)."""
import json

import pytest
from mmengine.config import Config

from tsm_plugin.apis import benchmark as bm

DEMO = 'configs/tsm_demo_synthetic.py'


def test_round_robin_interleaves_after_warmup():
    calls = []
    times = bm.round_robin({'a': lambda: calls.append('a'),
                            'b': lambda: calls.append('b')},
                           warmup=1, iters=3)
    assert calls == ['a', 'b'] * 4
    assert {k: len(v) for k, v in times.items()} == {'a': 3, 'b': 3}


def test_summarize_and_ratio():
    s = bm.summarize([0.5, 0.25, 2.0], items=2, unit='clips')
    assert s['seconds_per_step'] == 0.5 and s['clips_per_s'] == 4.0
    assert bm.ratio(dict(x=3.0), dict(x=2.0), 'x') == 1.5


def test_stock_test_pipeline_swaps_decoders_and_unfolds_fusion():
    ours = [dict(type='VideoInit', backend='pyav'),
            dict(type='SegmentSampleFrames', num_clips=8, test_mode=True),
            dict(type='VideoDecode'),
            dict(type='FusedCropResize', transforms=[
                dict(type='Resize', scale=(-1, 64)),
                dict(type='CenterCrop', crop_size=56)]),
            dict(type='FormatShape', input_format='NCHW'),
            dict(type='PackActionInputs')]
    assert bm.stock_test_pipeline(ours) == [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8,
             test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 64)),
        dict(type='CenterCrop', crop_size=56),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs')]
    assert [t['type'] for t in bm.decode_prefix(ours)] == [
        'VideoInit', 'SegmentSampleFrames', 'VideoDecode']
    assert bm.decode_prefix(bm.STOCK_TRAIN_PIPELINE)[-1]['type'] == \
        'DecordDecode'


def test_recipe_settings_read_the_config():
    fast = Config(dict(
        optim_wrapper=dict(type='AutocastOptimWrapper'),
        model=dict(data_preprocessor=dict(
            type='ChannelsLastActionDataPreprocessor'))))
    assert bm.recipe_settings(fast) == dict(precision='auto',
                                            channels_last='auto')
    plain = Config(dict(optim_wrapper=dict(), model=dict(
        data_preprocessor=dict(type='ActionDataPreprocessor'))))
    assert bm.recipe_settings(plain) == dict(precision='fp32',
                                             channels_last=False)
    amp = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper'),
                      model=dict()))
    assert bm.recipe_settings(amp)['precision'] == 'fp16'


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_model_mode_compares_on_the_same_batch(tmp_path, capsys):
    out = tmp_path / 'model.json'
    assert bm.main(['model', '--config', DEMO, '--frames', '2', '--size',
                    '32', '--warmup', '0', '--iters', '1', '--amp', 'bf16',
                    '--channels-last', '--json', str(out)]) == 0
    report = _read(out)
    ours, stock = report['ours'], report['mmaction2']
    assert (ours['precision'], ours['memory_format']) == ('bf16',
                                                          'channels_last')
    assert (stock['precision'], stock['memory_format']) == ('fp32', 'NCHW')
    assert report['ours_fp32_nchw']['precision'] == 'fp32'
    assert report['speedup'] == round(
        ours['clips_per_s'] / stock['clips_per_s'], 3)
    assert report['speedup_same_settings'] == round(
        report['ours_fp32_nchw']['clips_per_s'] / stock['clips_per_s'], 3)
    assert 'speedup' in capsys.readouterr().out


def test_model_fake_batch_is_the_same_for_both_sides():
    import torch
    a = bm.fake_batch(2, 3, 8, num_classes=5)
    b = bm.fake_batch(2, 3, 8, num_classes=5)
    assert all(torch.equal(x, y) for x, y in zip(a['inputs'], b['inputs']))
    assert a['inputs'][0].dtype == torch.uint8
    assert [s.gt_label.item() for s in a["data_samples"]] == [0, 1]
    c = bm.fake_batch(2, 3, 8, num_classes=5, seed=4)
    assert [s.gt_label.item() for s in c["data_samples"]] == [4, 0]


def test_data_mode_on_real_videos(tmp_path, synthetic_ssv2):
    out = tmp_path / 'data.json'
    assert bm.main(['data', '--config', DEMO, '--data-root',
                    str(synthetic_ssv2), '--cache', str(tmp_path),
                    '--warmup', '0', '--iters', '2', '--workers', '0',
                    '--json', str(out)]) == 0
    report = _read(out)
    cfg = Config.fromfile(DEMO)
    assert report['ours']['pipeline'] == [
        t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert report['mmaction2']['pipeline'][:3] == [
        'DecordInit', 'SampleFrames', 'DecordDecode']
    assert report['videos'] == 16  # 8 classes x 2 training videos
    assert report['speedup'] == round(
        report['ours']['clips_per_s'] / report['mmaction2']['clips_per_s'],
        3)
    floor = report['decode_floor']
    assert floor['ours']['clips_per_s'] > report['ours']['clips_per_s']


def test_tfd_mode_on_real_videos(tmp_path, synthetic_ssv2):
    out = tmp_path / 'tfd.json'
    assert bm.main(['tfd', '--config', DEMO, '--data-root',
                    str(synthetic_ssv2), '--cache', str(tmp_path),
                    '--frames', '2', '4', '--workers', '0',
                    '--json', str(out)]) == 0
    report = _read(out)
    assert set(report['ours']['top1']) == set(
        report['mmaction2']['top1']) == {'2', '4'}
    assert report['speedup'] == pytest.approx(
        report['mmaction2']['seconds'] / report['ours']['seconds'], rel=1e-2)
    assert (tmp_path / 'tfd_tsm_demo_synthetic.pth').is_file()


def test_user_errors_are_one_line(tmp_path, capsys):
    assert bm.main(['data', '--config', DEMO, '--data-root',
                    str(tmp_path / 'nowhere'), '--workers', '0']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: --data-root') and '\n' not in err
    with pytest.raises(SystemExit):
        bm.main(['model', '--amp', 'fp64'])
