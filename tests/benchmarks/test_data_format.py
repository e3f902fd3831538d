"""``tools/benchmark.py data --format F``: the prepared copy against the
source videos (.webm, or with ``--videos k400`` .mp4), its speedup per
core and storage ratio."""

import json
import os
from pathlib import Path

import av
import pytest

from benchmarks import _videos, cli
from tests.benchmarks._reports import assert_rate_is_the_median, ratio_of
from tests.helpers import DEMO

VIDEOS = '20bn-something-something-v2'


def sizes(folder: Path, suffix: str) -> int:
    return sum(
        os.path.getsize(folder / n)
        for n in os.listdir(folder)
        if n.endswith(suffix)
    )


def check_report(r: dict, src: Path, dst: Path, suffix: str, iters: int):
    """The figures agree with each other and with the files."""
    source, prep = r['source'], r['prepared']
    assert (source['root'], source['suffix']) == (str(src), suffix)
    assert prep['root'] == str(dst)
    # Each speedup is the ratio of the two clips/s the report holds (as
    # benchmarks._timing.ratio computes it: exact, no tolerance), and each
    # clips/s is 1 / the median of that side's recorded times.
    floor = r['decode_floor']
    for side in (source, prep, floor['source'], floor['prepared']):
        assert_rate_is_the_median(side, iters=iters)
    assert r['speedup_per_core'] == ratio_of(prep, source)
    assert floor['pipeline'][-1] == 'VideoDecode'
    assert r['decode_speedup'] == ratio_of(floor['prepared'], floor['source'])
    size = sizes(dst / VIDEOS, '.jpgbundle')
    source_size = sizes(src / VIDEOS, suffix)
    assert (r['prepared_bytes'], r['source_bytes']) == (size, source_size)
    assert r['storage_ratio'] == round(size / source_size, 3) > 1


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
    dst = tmp_path / 'prepared' / f'{synthetic_ssv2.name}.jpeg'
    check_report(r, synthetic_ssv2, dst, '.webm', iters=3)
    assert r['speedup_workers'] == ratio_of(
        r['prepared'], r['source'], 'clips_per_s_1_workers'
    )
    printed = capsys.readouterr().out
    assert f'speedup per core {r["speedup_per_core"]:.2f}x' in printed
    assert f'storage {r["storage_ratio"]:.2f}x the .webm' in printed


@pytest.mark.slow
def test_k400_videos_are_mp4_written_once_and_prepared(
    tmp_path, monkeypatch, capsys
):
    """``--videos k400`` at a tiny size: the set is written as H.264 .mp4
    (no .webm left), reused, and timed against its prepared copy."""
    tiny = dict(_videos.K400_SET, height=32, width=48, fps=12)
    tiny.update(min_seconds=1.5, max_seconds=1.5)
    k400 = _videos.VIDEO_SETS['k400']._replace(settings=tiny, per_class=1)
    monkeypatch.setitem(_videos.VIDEO_SETS, 'k400', k400)
    out = tmp_path / 'data.json'
    argv = ['data', '--config', DEMO, '--cache', str(tmp_path)]
    argv += '--videos k400 --format default --warmup 0 --iters 1'.split()
    argv += ['--workers', '0', '--json', str(out)]
    assert cli.main(argv) == 0
    r = json.loads(out.read_text())
    src = tmp_path / 'k400_256p'
    names = os.listdir(src / VIDEOS)
    assert len(names) == r['videos'] == 8
    assert all(n.endswith('.mp4') for n in names)
    with av.open(str(src / VIDEOS / names[0])) as c:  # encoded as H.264
        assert c.streams.video[0].codec_context.name == 'h264'
    assert r['video_set'] == dict(tiny, suffix='.mp4')
    check_report(r, src, tmp_path / 'prepared' / 'k400_256p.jpeg', '.mp4', 1)
    assert 'storage' in capsys.readouterr().out
    stamp = (src / 'bench.json').stat().st_mtime_ns
    assert cli.main(argv) == 0  # the set is reused, not written again
    assert (src / 'bench.json').stat().st_mtime_ns == stamp


def test_an_unknown_format_is_a_one_line_error(
    tmp_path, synthetic_ssv2, capsys
):
    argv = ['data', '--config', DEMO, '--data-root', str(synthetic_ssv2)]
    argv += ['--cache', str(tmp_path), '--format', 'png', '--workers', '0']
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown format 'png'; use default or one of jpeg"
    )
