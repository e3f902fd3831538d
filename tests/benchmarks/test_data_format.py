"""``tools/benchmark.py data --format F``: the prepared copy against the
.webm on the same videos, its speedup per core and storage ratio."""

import json
import os
from pathlib import Path

import pytest

from benchmarks import cli
from tests.benchmarks._reports import assert_rate_is_the_median, ratio_of
from tests.helpers import DEMO


@pytest.mark.slow
def test_format_default_reports_speedup_per_core_and_storage(
    tmp_path, synthetic_ssv2, capsys
):
    out = tmp_path / 'data.json'
    argv = ['data', '--config', DEMO, '--data-root', str(synthetic_ssv2)]
    argv += ['--cache', str(tmp_path), '--format', 'default']
    argv += '--warmup 0 --iters 3 --workers 1 --rounds 1 --json'.split()
    assert cli.main(argv + [str(out)]) == 0
    r = json.loads(out.read_text())
    assert r['format'] == 'jpeg' and r['videos'] == 16
    webm, prep = r['webm'], r['prepared']
    assert webm['root'] == str(synthetic_ssv2)
    dst = Path(prep['root'])
    assert dst == tmp_path / 'prepared' / f'{synthetic_ssv2.name}.jpeg'
    # Each speedup is the ratio of the two clips/s the report holds, and
    # each clips/s is 1 / the median of that side's 3 recorded times.
    floor = r['decode_floor']
    for side in (webm, prep, floor['webm'], floor['prepared']):
        assert_rate_is_the_median(side, iters=3)
    assert r['speedup_per_core'] == ratio_of(prep, webm)
    assert floor['pipeline'][-1] == 'VideoDecode'
    assert r['decode_speedup'] == ratio_of(floor['prepared'], floor['webm'])
    videos = sorted(os.listdir(synthetic_ssv2 / '20bn-something-something-v2'))
    size = sum(
        os.path.getsize(dst / '20bn-something-something-v2' / name)
        for name in os.listdir(dst / '20bn-something-something-v2')
        if name.endswith('.jpgbundle')
    )
    webm_size = sum(
        os.path.getsize(synthetic_ssv2 / '20bn-something-something-v2' / v)
        for v in videos
    )
    assert (r['prepared_bytes'], r['webm_bytes']) == (size, webm_size)
    assert r['storage_ratio'] == round(size / webm_size, 3) > 1
    assert r['speedup_workers'] == ratio_of(
        prep, webm, 'clips_per_s_1_workers'
    )
    printed = capsys.readouterr().out
    assert f'speedup per core {r["speedup_per_core"]:.2f}x' in printed
    assert f'storage {r["storage_ratio"]:.2f}x the .webm' in printed


def test_an_unknown_format_is_a_one_line_error(
    tmp_path, synthetic_ssv2, capsys
):
    argv = ['data', '--config', DEMO, '--data-root', str(synthetic_ssv2)]
    argv += ['--cache', str(tmp_path), '--format', 'png', '--workers', '0']
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown format 'png'; use default or one of jpeg"
    )
