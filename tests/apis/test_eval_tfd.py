"""tools/eval_tfd.py: the table, the files, and one-line user errors."""

import json
import struct
from pathlib import Path

from tests.helpers import RECIPE
from tests.tfd_fixtures import TRAINED
from tsm_plugin.apis import eval_tfd as eval_api
from tsm_plugin.apis import test as test_api


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR'
    return struct.unpack('>II', data[16:24])


def test_cli_prints_table_and_writes_outputs(
    trained, tools_test_runs, tmp_path, capsys
):
    out = tmp_path / 'tfd'
    rc = eval_api.main(
        [
            trained['cfg_file'],
            trained['ckpt'],
            '--frames',
            '8',
            '2',
            '8',
            '--out',
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / 'tfd.json').read_text())
    assert saved['trained_frames'] == TRAINED
    assert saved['checkpoint'] == trained['ckpt']
    assert saved['decode_once'] is True
    assert saved['precision'] == 'fp32'  # the default, named
    assert 'Precision: fp32' in (out / 'tfd.md').read_text()
    rows = saved['results']
    assert [r['frames'] for r in rows] == [2, 8]  # sorted, deduplicated
    for r in rows:
        assert set(r) >= {
            'frames',
            'top1',
            'top5',
            'num_videos',
            'trained_frames',
        }
        assert r['trained_frames'] == TRAINED
        assert r['num_videos'] == len(tools_test_runs[r['frames']]['scores'])
        # exactly tools/test.py's numbers (8: the plain command)
        assert r['top1'] == tools_test_runs[r['frames']]['metrics']['acc/top1']
    table = (out / 'tfd.md').read_text().strip()
    assert table in printed
    assert f'TFD plot:  {out / "tfd.png"}' in printed
    assert _png_size(out / 'tfd.png') == (600, 400)


def test_user_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / 'none.pth'
    assert eval_api.main([RECIPE, str(missing)]) == 2
    assert capsys.readouterr().err == (
        f'error: checkpoint not found: {missing}\n'
    )
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    assert eval_api.main([RECIPE, str(ckpt), '--frames', '0', '4']) == 2
    assert capsys.readouterr().err == 'error: --frames must be >= 1, got 0\n'
    assert test_api.main([RECIPE, str(ckpt), '--num-frames', '0']) == 2
    assert capsys.readouterr().err == (
        'error: --num-frames must be >= 1, got 0\n'
    )
    assert not (tmp_path / 'tfd').exists()  # nothing written on bad input


def test_compare_puts_models_side_by_side(
    trained, tools_test_runs, tmp_path, capsys
):
    """--compare CONFIG CKPT: one table with a column per model and one plot
    with a curve per model; here the same model twice, so the columns are
    equal and each equals tools/test.py."""
    out = tmp_path / 'cmp'
    cfg, ckpt = trained['cfg_file'], trained['ckpt']
    assert (
        eval_api.main(
            [
                cfg,
                ckpt,
                '--frames',
                '2',
                '8',
                '--out',
                str(out),
                '--compare',
                cfg,
                ckpt,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    table = (out / 'compare.md').read_text().strip()
    assert table in printed
    lines = table.splitlines()
    assert lines[0] == ('| frames | tiny (trained 8 f) | tiny (trained 8 f) |')
    for line, t in zip(lines[2:], (2, 8)):
        top1 = 100 * tools_test_runs[t]['metrics']['acc/top1']
        mark = '*' if t == TRAINED else ''
        assert line == f'| {t} | {top1:.2f}{mark} | {top1:.2f}{mark} |'
    saved = json.loads((out / 'compare.json').read_text())
    assert [m['name'] for m in saved['models']] == ['tiny', 'tiny']
    assert _png_size(out / 'compare.png') == (600, 400)
    # an odd number of --compare values is one line, exit 2
    capsys.readouterr()
    assert eval_api.main([cfg, ckpt, '--compare', cfg]) == 2
    assert capsys.readouterr().err.startswith(
        'error: --compare takes CONFIG CKPT pairs'
    )


def test_an_ensemble_config_evaluates_without_a_checkpoint(
    trained, tools_test_runs, tmp_path
):
    """``none``: the config's model loads its own weights. An ensemble of
    the same checkpoint twice scores as that checkpoint (tools/test.py's
    top-1), at twice its GFLOPs."""
    from mmengine.config import Config

    cfg = Config.fromfile(trained['cfg_file'])
    member = dict(config=trained['cfg_file'], checkpoint=trained['ckpt'])
    cfg.model = dict(type='EnsembleRecognizer', members=[member, member])
    cfg_file = tmp_path / 'ensemble.py'
    cfg.dump(str(cfg_file))
    reports = {}
    for name, argv in (
        ('ensemble', [str(cfg_file), 'none']),
        ('single', [trained['cfg_file'], trained['ckpt']]),
    ):
        out = tmp_path / name
        assert (
            eval_api.main(argv + ['--frames', '2', '8', '--out', str(out)])
            == 0
        )
        reports[name] = json.loads((out / 'tfd.json').read_text())['results']
    for ens, one in zip(reports['ensemble'], reports['single']):
        metrics = tools_test_runs[ens['frames']]['metrics']
        assert ens['top1'] == one['top1'] == metrics['acc/top1']
        assert ens['gflops'] == 2 * one['gflops'] > 0
