"""tools/benchmark.py (the ``benchmarks`` package): the timing helpers, the
stock pipelines it compares against, and each mode end to end on tiny
settings (real models, real videos from the synthetic set)."""

import json
import statistics

import pytest
import torch
from mmengine.config import Config

from benchmarks import _data, _stock, _timing, cli
from benchmarks.model_step import recipe_settings
from tests.benchmarks._reports import assert_rate_is_the_median, ratio_of
from tests.helpers import DEMO, PACK, RECIPE, decode_steps
from tsm_plugin.testing.demo_inputs import fake_batch
from tsm_plugin.utils.config import load_config


def _types(pipeline):
    return [t['type'] for t in pipeline]


def _bench(mode, *flags, root=None, cache=None):
    """``tools/benchmark.py MODE --config DEMO [--data-root] [--cache]
    FLAGS``, in process; returns the exit status."""
    argv = [mode, '--config', DEMO]
    if root is not None:
        argv += ['--data-root', str(root)]
    if cache is not None:
        argv += ['--cache', str(cache)]
    return cli.main(argv + [str(f) for f in flags])


def _report(tmp_path, mode, flags, videos=None):
    """:func:`_bench` with ``flags`` (a string) and ``--json
    TMP_PATH/MODE.json``, which must exit 0; returns the JSON report.
    ``videos``: the ``--data-root``, with ``tmp_path`` the ``--cache``."""
    out = tmp_path / f'{mode}.json'
    argv = [*flags.split(), '--json', out]
    cache = None if videos is None else tmp_path
    assert _bench(mode, *argv, root=videos, cache=cache) == 0
    with open(out) as f:
        return json.load(f)


def _median_ratio(a, b):
    """median(a) / median(b), from the per-iteration times of a report."""
    return statistics.median(a) / statistics.median(b)


def test_round_robin_interleaves_after_warmup():
    calls = []
    times = _timing.round_robin(
        {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')},
        warmup=1,
        iters=3,
    )
    assert calls == ['a', 'b'] * 4
    assert {k: len(v) for k, v in times.items()} == {'a': 3, 'b': 3}


def test_summarize_reports_the_median_and_ratio_divides():
    s = _timing.summarize([0.5, 0.25, 2.0], items=2, unit='clips')
    # the median (0.5), not the mean (0.9167)
    assert s['seconds_per_step'] == 0.5 and s['clips_per_s'] == 4.0
    assert s['median_ms'] == 500.0 and s['times'] == [0.5, 0.25, 2.0]
    assert _timing.ratio(dict(x=3.0), dict(x=2.0), 'x') == 1.5


def test_stock_test_pipeline_swaps_decoders_and_unfolds_fusion():
    fused = dict(
        type='FusedCropResize',
        transforms=[
            dict(type='Resize', scale=(-1, 64)),
            dict(type='CenterCrop', crop_size=56),
        ],
    )
    ours = [*decode_steps(8, test_mode=True, backend='pyav'), fused, *PACK]
    assert _stock.stock_test_pipeline(ours) == [
        dict(type='DecordInit'),
        dict(
            type='SampleFrames',
            clip_len=1,
            frame_interval=1,
            num_clips=8,
            test_mode=True,
        ),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 64)),
        dict(type='CenterCrop', crop_size=56),
        dict(type='FormatShape', input_format='NCHW'),
        dict(type='PackActionInputs'),
    ]
    assert _types(_stock.decode_prefix(ours)) == [
        'VideoInit',
        'SegmentSampleFrames',
        'VideoDecode',
    ]
    assert (
        _stock.decode_prefix(_stock.stock_train_pipeline())[-1]['type']
        == 'DecordDecode'
    )


def test_stock_pipelines_come_from_mmaction2_config_and_match_ours():
    train = _stock.stock_train_pipeline()
    assert _types(train) == [
        'DecordInit',
        'SampleFrames',
        'DecordDecode',
        'Resize',
        'MultiScaleCrop',
        'Resize',
        'FormatShape',
        'PackActionInputs',
    ]
    assert train[1]['num_clips'] == 16 and not train[1].get('test_mode')
    # The same augmentation chain as the one our FusedCropResize fuses.
    ours = load_config(RECIPE).train_dataloader.dataset.pipeline
    fused = [t for t in ours if t['type'] == 'FusedCropResize'][0]
    assert [dict(t) for t in train[3:6]] == [
        dict(t) for t in fused['transforms']
    ]
    val = _stock.stock_val_pipeline()
    assert _types(val) == [
        'DecordInit',
        'SampleFrames',
        'DecordDecode',
        'Resize',
        'CenterCrop',
        'FormatShape',
        'PackActionInputs',
    ]
    assert val[1]['num_clips'] == 16 and val[1]['test_mode'] is True
    assert val[4]['crop_size'] == 224
    # Copies: a caller's edit does not reach the next caller.
    train[0]['type'] = 'Edited'
    assert _stock.stock_train_pipeline()[0]['type'] == 'DecordInit'


def test_recipe_settings_read_the_config():
    fast = Config(
        dict(
            optim_wrapper=dict(type='AutocastOptimWrapper'),
            model=dict(
                data_preprocessor=dict(
                    type='ChannelsLastActionDataPreprocessor'
                )
            ),
        )
    )
    assert recipe_settings(fast) == dict(
        precision='auto', channels_last='auto'
    )
    plain = Config(
        dict(
            optim_wrapper=dict(),
            model=dict(data_preprocessor=dict(type='ActionDataPreprocessor')),
        )
    )
    assert recipe_settings(plain) == dict(
        precision='fp32', channels_last=False
    )
    amp = Config(
        dict(optim_wrapper=dict(type='AmpOptimWrapper'), model=dict())
    )
    assert recipe_settings(amp)['precision'] == 'fp16'


@pytest.mark.slow
def test_model_mode_compares_on_the_same_batch(tmp_path, capsys):
    report = _report(
        tmp_path,
        'model',
        '--frames 2 --size 32 --warmup 0 --iters 3 --amp bf16 '
        '--channels-last --device cpu',
    )
    ours, stock = report['ours'], report['mmaction2']
    same = report['ours_fp32_nchw']
    assert (ours['precision'], ours['memory_format']) == (
        'bf16',
        'channels_last',
    )
    assert (stock['precision'], stock['memory_format']) == ('fp32', 'NCHW')
    assert same['precision'] == 'fp32'
    assert report['device'] == 'cpu' and report['batch'] == 1
    for side in (ours, stock, same):
        assert len(side['times']) == 3
        assert side['seconds_per_step'] == pytest.approx(
            statistics.median(side['times']), abs=1e-5
        )
    # Speedups are ratios of the medians of the recorded step times.
    assert report['speedup'] == pytest.approx(
        _median_ratio(stock['times'], ours['times']), rel=5e-3
    )
    assert report['speedup_same_settings'] == pytest.approx(
        _median_ratio(stock['times'], same['times']), rel=5e-3
    )
    assert 'speedup' in capsys.readouterr().out


def test_model_fake_batch_is_the_same_for_both_sides():
    a = fake_batch(2, 3, 8, num_classes=5)
    b = fake_batch(2, 3, 8, num_classes=5)
    assert all(torch.equal(x, y) for x, y in zip(a['inputs'], b['inputs']))
    assert a['inputs'][0].dtype == torch.uint8
    assert a['inputs'][0].shape == (3, 3, 8, 8)
    assert [s.gt_label.item() for s in a['data_samples']] == [0, 1]
    c = fake_batch(2, 3, 8, num_classes=5, seed=4)
    assert [s.gt_label.item() for s in c['data_samples']] == [4, 0]
    assert not torch.equal(a['inputs'][0], c['inputs'][0])


@pytest.mark.slow
def test_data_mode_on_real_videos(tmp_path, synthetic_ssv2):
    report = _report(
        tmp_path, 'data', '--warmup 0 --iters 3 --workers 0', synthetic_ssv2
    )
    cfg = Config.fromfile(DEMO)
    ours, stock = report['ours'], report['mmaction2']
    assert ours['pipeline'] == _types(cfg.train_dataloader.dataset.pipeline)
    assert stock['pipeline'] == _types(_stock.stock_train_pipeline())
    assert report['videos'] == 16  # 8 classes x 2 training videos
    # The speedup is the ratio of the two clips/s the report holds, and
    # each clips/s is 1 / the median of that side's 3 recorded times.
    for side in (ours, stock):
        assert_rate_is_the_median(side, iters=3)
    assert report['speedup'] == ratio_of(ours, stock)
    # The decode floor times each pipeline cut after its decoder.
    for name, decoder in (
        ('ours', 'VideoDecode'),
        ('mmaction2', 'DecordDecode'),
    ):
        floor = report['decode_floor'][name]['pipeline']
        full = report[name]['pipeline']
        assert floor[-1] == decoder
        assert len(floor) < len(full) and full[: len(floor)] == floor


@pytest.mark.slow
def test_data_mode_reports_medians(tmp_path, synthetic_ssv2, monkeypatch):
    # Skewed times: the mean and the median differ on every side.
    fed = {
        'ours': [0.010, 0.020, 0.090],
        'mmaction2': [0.030, 0.040, 0.200],
        'ours_decode': [0.005, 0.015, 0.100],
        'mmaction2_decode': [0.020, 0.030, 0.030],
    }
    seen = {}

    def fake_round_robin(fns, warmup, iters, sync=None, label=None):
        seen.update(fns=sorted(fns), iters=iters)
        return {name: list(fed[name]) for name in fns}

    monkeypatch.setattr(_data, 'round_robin', fake_round_robin)
    report = _report(tmp_path, 'data', '--iters 3 --workers 0', synthetic_ssv2)
    assert seen == dict(fns=sorted(fed), iters=3)
    ours, stock = report['ours'], report['mmaction2']
    assert (ours['ms_per_clip'], ours['clips_per_s']) == (20.0, 50.0)
    assert (stock['ms_per_clip'], stock['clips_per_s']) == (40.0, 25.0)
    assert report['decode_floor']['ours']['ms_per_clip'] == 15.0
    assert report['decode_floor']['mmaction2']['ms_per_clip'] == 30.0
    assert (ours['transforms_ms'], stock['transforms_ms']) == (5.0, 10.0)
    assert report['speedup'] == 2.0  # means would give 2.25


@pytest.mark.slow
def test_tfd_mode_on_real_videos(tmp_path, synthetic_ssv2):
    report = _report(
        tmp_path, 'tfd', '--frames 4 2 4 --workers 0', synthetic_ssv2
    )
    assert report['frames'] == [2, 4]
    assert (
        set(report['ours']['top1'])
        == set(report['mmaction2']['top1'])
        == {'2', '4'}
    )
    assert len(report['ours']['times']) == 1
    assert report['warmup_rounds'] == 1  # untimed, before the timed round
    assert report['speedup'] == pytest.approx(
        _median_ratio(report['mmaction2']['times'], report['ours']['times']),
        rel=1e-2,
    )
    ckpt = tmp_path / 'tfd_tsm_demo_synthetic.pth'
    assert report['checkpoint'] == str(ckpt)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert 'backbone.conv1.conv.weight' in state['state_dict']
    assert not list(tmp_path.glob('.*.tmp'))  # written atomically


def test_user_errors_are_one_line(tmp_path, synthetic_ssv2, capsys):
    assert (
        _bench('data', '--workers', '0', root=str(tmp_path / 'nowhere')) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: --data-root') and '\n' not in err
    missing = tmp_path / 'missing.pth'
    assert (
        _bench(
            'tfd',
            '--checkpoint',
            str(missing),
            root=str(synthetic_ssv2),
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == (
        f'error: checkpoint not found: {missing}'
    )
    with pytest.raises(SystemExit):
        cli.main(['model', '--amp', 'fp64'])
    for argv, flag in (
        (['model', '--iters', '0'], '--iters'),
        (['data', '--workers', '-1'], '--workers'),
        (['tfd', '--frames', '0'], '--frames'),
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert f'argument {flag}: must be >= ' in capsys.readouterr().err
