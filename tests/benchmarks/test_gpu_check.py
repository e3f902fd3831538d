"""tools/gpu_check.sh and the benchmarks.gpu_check package: the dry run
end to end (real models, videos, loaders and Runner at tiny sizes on the
CPU, through the shell script and a --wheels install), the time budget and
a failing section, the fetch command's pip flags, and the 50-epoch
estimate."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from benchmarks import gpu_check
from benchmarks.gpu_report import estimate_hours
from tests.helpers import REPO

SCRIPT = REPO / 'tools' / 'gpu_check.sh'
SECTIONS = list(gpu_check.MIN_SECONDS)
FFN_MODE = 'ffn' in gpu_check.benchmark_modes()


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel holding module ``name``."""
    path = folder / f'{name}-{version}-py3-none-any.whl'
    info = f'{name}-{version}.dist-info'
    files = {
        f'{name}.py': f'VERSION = {version!r}\n',
        f'{info}/METADATA': (
            f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'
        ),
        f'{info}/WHEEL': (
            'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
            'Tag: py3-none-any\n'
        ),
    }
    record = ''.join(f'{f},,\n' for f in files) + f'{info}/RECORD,,\n'
    with zipfile.ZipFile(path, 'w') as z:
        for f, text in files.items():
            z.writestr(f, text)
        z.writestr(f'{info}/RECORD', record)
    return path


def _script(*args, env=None, timeout=170):
    return subprocess.run(
        ['bash', str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, 'PYTHON': sys.executable, **(env or {})},
    )


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    """``gpu_check.sh --wheels W --dry-run --out OUT``; W holds one wheel the
    venv lacks (installed) and one it has (left to the venv)."""
    tmp = tmp_path_factory.mktemp('gpu_check')
    wheels = tmp / 'wheels'
    wheels.mkdir()
    _wheel(wheels, 'gpucheckprobe', '1.0')
    _wheel(wheels, 'addict', '0.0.1')  # the venv's addict stays
    out = tmp / 'out'
    start = time.perf_counter()
    proc = _script(
        '--wheels', wheels, '--dry-run', '--out', out, '--work', tmp / 'work'
    )
    seconds = time.perf_counter() - start
    report = json.loads((out / 'gpu_check.json').read_text())
    return proc, report, out, seconds


@pytest.mark.slow
def test_dry_run_writes_every_section_measured(dry_run):
    proc, report, out, seconds = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'installing 1 wheels' in proc.stdout
    assert report['dry_run'] is True and report['device'] == 'cpu'
    sections = report['sections']
    assert list(sections) == SECTIONS
    # The FFN step where tools/benchmark.py has its ffn mode.
    want = dict.fromkeys(SECTIONS, 'ok')
    if not FFN_MODE:
        want['ffn_step'] = 'not available'
    assert {k: v['status'] for k, v in sections.items()} == want, {
        k: v.get('error') for k, v in sections.items()
    }
    assert report['elapsed_s'] < report['budget_s']

    step = sections['step']['result']
    assert step['frames'] == 2 and step['size'] == 32
    assert step['ours']['clips_per_s'] > 0 < step['mmaction2']['clips_per_s']
    fp16 = sections['fp16_step']['result']
    assert fp16['ours']['precision'] == 'fp16'

    train = sections['train']['result']
    assert train['iterations'] == 2 and train['batch'] == 4
    assert len(train['data_time']) == len(train['time']) == 2
    assert 0 <= train['data_wait_share'] <= 1
    total = sum(train['time'])
    assert train['clips_per_s'] == pytest.approx(8 / total, rel=0.02)

    for name in ('loader_webm', 'loader_prepared'):
        rates = sections[name]['result']['rates']
        assert set(rates) == {'1', '2'} and min(rates.values()) > 0
    prepared = sections['prepare']['result']
    assert (
        prepared['format'] == sections['loader_prepared']['result']['format']
    )
    assert prepared['storage_ratio'] > 1  # frames stored, not the stream
    env = sections['environment']['result']
    assert env['recipe_precision'] in ('fp32', 'bf16')


@pytest.mark.slow
def test_dry_run_table_in_json_and_markdown(dry_run):
    _, report, out, _ = dry_run
    md = (out / 'gpu_check.md').read_text()
    assert (out / 'gpu_check.log').read_text().strip()
    whats = [row['what'] for row in report['rows']]
    for row in report['rows']:
        assert f'| {row["what"]} | {row["figure"]} | {row["note"]} |' in md
    assert any(w.startswith('step: ours') for w in whats)
    assert any(w.startswith('step: mmaction2') for w in whats)
    assert any(w.startswith('step fp16') for w in whats)
    assert any(w.startswith('step: FFN') for w in whats) == FFN_MODE
    assert any(w.startswith('loader: prepared') for w in whats)
    assert any(w.startswith('training: 2 iterations') for w in whats)
    clips = report['sections']['train']['result']['clips_per_s']
    est = next(r for r in report['rows'] if r['what'].startswith('50 epochs'))
    assert est['value'] == estimate_hours(clips)
    for name in SECTIONS:
        status = report['sections'][name]['status']
        assert f'| {name} | {status} |' in md


def test_estimate_is_the_readme_formula():
    # The public figure this project starts from: ~69 clips/s, ~34 h.
    assert estimate_hours(69) == 34.0
    assert estimate_hours(2000) == round(50 * 168913 / 2000 / 3600, 1)
    assert estimate_hours(None) is None


class _Fake(gpu_check.GpuCheck):
    """Sections replaced: one fails; in another the budget runs out (its
    alarm comes early)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ran = []

    def sections(self):
        names = list(super().sections())

        def make(name):
            def section(res):
                self.ran.append(name)
                res['value'] = len(self.ran)
                if name == 'step':
                    raise ValueError('broken on purpose')
                if name == 'train':  # the budget runs out in here
                    self.start -= self.budget_s
                    signal.setitimer(signal.ITIMER_REAL, 0.05)
                    time.sleep(10)

            return section

        return {name: make(name) for name in names}


def test_a_failure_is_recorded_and_the_budget_stops_the_rest(tmp_path):
    check = _Fake(str(tmp_path), str(tmp_path), dry_run=True, budget_s=60)
    report = check.run()
    status = {k: v['status'] for k, v in report['sections'].items()}
    assert check.ran == ['environment', 'step', 'videos', 'train']
    assert status['environment'] == status['videos'] == 'ok'
    assert status['step'] == 'failed'
    assert (
        'ValueError: broken on purpose' in report['sections']['step']['error']
    )
    assert status['train'] == 'timed out'
    for name in SECTIONS[4:]:
        assert status[name] == 'skipped'
        assert 'time budget' in report['sections'][name]['reason']
    on_disk = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert on_disk['sections'] == report['sections']
    md = (tmp_path / 'gpu_check.md').read_text()
    assert '| step | failed |' in md and '| train | timed out |' in md


def test_fetch_asks_pip_for_cp312_manylinux_wheels_without_torch(tmp_path):
    """``--fetch DIR``: one ``pip download`` of the pinned list, binary
    only, for CPython 3.12 on manylinux x86_64, no dependencies resolved
    (so no torch); ``--full`` adds the compiled scientific stack."""
    log = tmp_path / 'argv.txt'
    fake = tmp_path / 'python'
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    for flags in ([], ['--full']):
        proc = _script(
            '--fetch', tmp_path / 'w', *flags, env=dict(PYTHON=str(fake))
        )
        assert proc.returncode == 0, proc.stderr
    plain, full = log.read_text().splitlines()
    argv = plain.split()
    assert argv[:3] == ['-m', 'pip', 'download']
    for flag in (
        '--no-deps',
        '--only-binary=:all:',
        '--python-version 3.12',
        '--implementation cp',
        '--platform manylinux2014_x86_64',
        '--platform manylinux_2_17_x86_64',
        f'-d {tmp_path / "w"}',
    ):
        assert flag in plain
    for pin in ('mmengine==0.10.7', 'mmcv-lite==2.1.0', 'mmaction2==1.2.0'):
        assert pin in argv
    assert not any(a.startswith(('torch', 'numpy', 'opencv')) for a in argv)
    extra = set(full.split()) - set(argv)
    assert {a.split('==')[0] for a in extra} == {
        'numpy',
        'opencv-python-headless',
        'scipy',
        'pillow',
    }


def test_a_bad_wheels_folder_is_one_line(tmp_path):
    proc = _script('--wheels', tmp_path / 'none', '--out', tmp_path / 'o')
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f'error: gpu_check.sh: --wheels {tmp_path / "none"}: no such folder'
    ]


def test_shrink_crops_changes_every_224_of_the_recipe_pipeline():
    from tsm_plugin.utils.config import load_config

    pipeline = load_config(str(REPO / gpu_check.RECIPE)).train_pipeline
    before = json.dumps(pipeline)
    gpu_check.shrink_crops(pipeline, 64)
    fused = next(t for t in pipeline if t['type'] == 'FusedCropResize')
    sizes = [
        (t['type'], t.get('input_size'), t.get('scale'))
        for t in fused['transforms']
    ]
    assert sizes == [
        ('Resize', None, (-1, 73)),
        ('MultiScaleCrop', 64, None),
        ('Resize', None, (64, 64)),
    ]
    assert '224' in before and '224' not in json.dumps(pipeline)


def test_tensorboard_backends_left_out_only_without_tensorboard(monkeypatch):
    import importlib.util

    from mmengine.config import Config

    def cfg():
        backends = [dict(type='LocalVisBackend')]
        backends.append(dict(type='TensorboardVisBackend'))
        return Config(dict(visualizer=dict(vis_backends=backends)))

    real = importlib.util.find_spec
    with_tb = cfg()
    if real('tensorboard') is not None:
        assert gpu_check.drop_missing_tensorboard(with_tb) == []
        assert len(with_tb.visualizer.vis_backends) == 2
    monkeypatch.setattr(
        importlib.util,
        'find_spec',
        lambda name, *a: None if name == 'tensorboard' else real(name, *a),
    )
    without = cfg()
    assert gpu_check.drop_missing_tensorboard(without) == [
        'TensorboardVisBackend'
    ]
    assert without.visualizer.vis_backends == [dict(type='LocalVisBackend')]
