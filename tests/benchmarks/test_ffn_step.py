"""``tools/benchmark.py ffn``: one FFN step against one TSM step."""

import json
import statistics

import pytest

from benchmarks import cli


@pytest.mark.slow
def test_ffn_mode_times_both_steps_on_the_same_settings(tmp_path, capsys):
    out = tmp_path / 'ffn.json'
    argv = (
        'ffn --depth 18 --size 32 --warmup 0 --iters 2 --amp none '
        '--no-channels-last --device cpu --json'
    ).split()
    assert cli.main(argv + [str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['frame_counts'] == [4, 8, 16]
    assert report['frames_ratio'] == 1.75  # 28 frames against 16
    assert (report['depth'], report['precision']) == (18, 'fp32')
    assert report['memory_format'] == 'NCHW'
    for side in ('ffn', 'tsm'):
        assert len(report[side]['times']) == 2
    assert report['cost_ratio'] == pytest.approx(
        statistics.median(report['ffn']['times'])
        / statistics.median(report['tsm']['times']),
        rel=5e-3,
    )
    assert 'FFN / TSM' in capsys.readouterr().out
