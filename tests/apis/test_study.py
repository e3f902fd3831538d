"""tools/study.py: train what is missing (resumable, SLURM), evaluate every
row at every frame count, write the table; one-line errors.

The end-to-end run trains two tiny rows with the real tools/train.py in
child processes: the second is interrupted (the study gets SIGTERM, as from
Ctrl-C or SLURM, and passes it on), and the rerun finishes the study
without retraining the first."""

import contextlib
import io
import json
import os
import signal
import struct
import time
from pathlib import Path

import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from tests.helpers import DEMO, REPO, one_thread_fixture, tiny_cfg
from tests.tfd_fixtures import CROP
from tsm_plugin.apis import study as study_api

one_thread = one_thread_fixture('module')
FRAMES = (2, 4)


@HOOKS.register_module(force=True)
class StudyInterruptHook(Hook):
    """At the start of training, while ``flag`` exists: SIGTERM to the
    parent (the study), then wait until the study has passed it on (the
    trainer's PreemptionHook holds it): the run saves after its first
    iteration and exits 3."""

    def __init__(self, flag: str):
        self.flag = flag

    def before_train_epoch(self, runner) -> None:
        if runner.epoch != 0 or not os.path.exists(self.flag):
            return
        os.remove(self.flag)
        os.kill(os.getppid(), signal.SIGTERM)
        held = next(
            h for h in runner.hooks if type(h).__name__ == 'PreemptionHook'
        )
        deadline = time.monotonic() + 60
        while held._received is None and time.monotonic() < deadline:
            time.sleep(0.01)


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', data[16:24])


def _row_config(data_root, path, **keys) -> str:
    """A tiny training config (4 frames, 32 px, 4 videos, 1 epoch)."""
    cfg = tiny_cfg(data_root, path.parent, frames=4, crop=CROP, indices=4)
    cfg.default_hooks.pop('tfd')  # the study evaluates
    cfg.merge_from_dict(keys)
    cfg.dump(str(path))
    return str(path)


def _study_file(path, work_dir, rows, **keys) -> str:
    text = f'work_dir = {str(work_dir)!r}\nrows = {rows!r}\n'
    text += ''.join(f'{k} = {v!r}\n' for k, v in keys.items())
    path.write_text(text)
    return str(path)


def _run(argv):
    """``tools/study.py argv`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = study_api.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def interrupted_study(synthetic_ssv2, trained, tmp_path_factory):
    """Run 1: row A trains, row B is interrupted (exit 3); the state of A
    then; run 2: the same command."""
    tmp = tmp_path_factory.mktemp('study')
    flag = tmp / 'interrupt-once'
    flag.touch()
    row_a = _row_config(synthetic_ssv2, tmp / 'row_a.py')
    row_b = _row_config(
        synthetic_ssv2,
        tmp / 'row_b.py',
        custom_imports=dict(
            imports=['tsm_plugin.registration', 'tests.apis.test_study'],
            allow_failed_imports=False,
        ),
        custom_hooks=[dict(type='StudyInterruptHook', flag=str(flag))],
    )
    rows = [
        dict(
            name='CKPT', config=trained['cfg_file'], checkpoint=trained['ckpt']
        ),
        dict(name='A', config=row_a, paper={2: 12.5}),
        dict(
            name='B', config=row_b, cfg_options=dict(num_frames=2), show=False
        ),
        dict(name='ST', per_frames={2: 'B', 4: 'A'}),
        dict(name='ENS', ensemble=['CKPT', 'A']),
    ]
    work = tmp / 'work'
    study = _study_file(
        tmp / 'study.py',
        work,
        rows,
        frames=FRAMES,
        reference='CKPT',
        cost_reference='CKPT',
    )
    first = _run([study])
    a_dir = work / 'a'
    before = {
        name: (a_dir / name).read_bytes()
        for name in ('study_row.json', 'train.log', 'epoch_1.pth')
    }
    mtime = (a_dir / 'epoch_1.pth').stat().st_mtime_ns
    second = _run([study])
    return dict(
        first=first,
        second=second,
        work=work,
        a_before=before,
        a_mtime=mtime,
        out=work,
    )


@pytest.mark.slow
def test_interrupted_row_resumes_and_finished_rows_stay(interrupted_study):
    """The acceptance test: interrupted mid-row, the same command finishes
    the study; the finished row is not trained again."""
    status, out, err = interrupted_study['first']
    assert status == 3, err
    assert "interrupted: row 'B' stopped on SIGTERM (exit status 3)" in err
    assert 'run the same command again to resume' in err
    assert '[1/2] A: epochs 1-1 ... done in' in out
    status, out, err = interrupted_study['second']
    assert status == 0, err
    work = interrupted_study['work']
    a_dir, b_dir = work / 'a', work / 'b'
    for name, data in interrupted_study['a_before'].items():
        assert (a_dir / name).read_bytes() == data, name  # A not retrained
    assert (a_dir / 'epoch_1.pth').stat().st_mtime_ns == (
        interrupted_study['a_mtime']
    )
    assert '[1/1] B: epochs 1-1 (resumed from iter_1.pth) ... done' in out
    # one pass over the videos for every model (the same test pipeline)
    assert out.count('evaluating') == 1
    assert 'evaluating CKPT, A, B, ENS at 2 frame count(s) [2, 4]' in out
    commands = [
        line
        for line in (b_dir / 'train.log').read_text().splitlines()
        if line.startswith('# ')
    ]
    assert len(commands) == 2
    assert '--resume' not in commands[0] and '--resume' in commands[1]
    assert commands[1].endswith('--resume --cfg-options num_frames=2')
    record = json.loads((b_dir / 'study_row.json').read_text())
    assert [r['exit_status'] for r in record['runs']] == [3, 0]
    assert record['seconds'] == pytest.approx(
        sum(r['seconds'] for r in record['runs']), abs=0.01
    )
    assert (b_dir / 'epoch_1.pth').exists()


def _units(work):
    return {
        name: json.loads((work / 'eval' / f'{name}.json').read_text())
        for name in ('ckpt', 'a', 'b', 'ens')
    }


@pytest.mark.slow
def test_table_values(interrupted_study, tools_test_runs):
    """Per row and frame count: the per_frames row is its model's value,
    the ensemble's GFLOPs and parameters are its members' sums, the
    difference is to the reference's top-1, and the reference matches
    tools/test.py."""
    work = interrupted_study['work']
    table = json.loads((work / 'study.json').read_text())
    rows = {r['name']: r for r in table['rows']}
    assert list(rows) == ['CKPT', 'A', 'ST', 'ENS']  # B is show=False
    units = _units(work)
    for k in FRAMES:
        ref = rows['CKPT']['results'][str(k)]
        metrics = tools_test_runs[k]['metrics']
        assert ref['top1'] == pytest.approx(100 * metrics['acc/top1'])
        member = {2: 'b', 4: 'a'}[k]
        st = rows['ST']['results'][str(k)]
        assert st['top1'] == pytest.approx(
            100 * units[member]['results'][str(k)]['top1']
        )
        assert st['model'] == member.upper()
        ens = rows['ENS']['results'][str(k)]
        assert ens['gflops'] == pytest.approx(
            units['ckpt']['results'][str(k)]['gflops']
            + units['a']['results'][str(k)]['gflops'],
            rel=1e-6,
        )
        for name in ('A', 'ST', 'ENS'):
            got = rows[name]['results'][str(k)]
            assert got['delta'] == pytest.approx(got['top1'] - ref['top1'])
    assert rows['ENS']['params_m'] == pytest.approx(
        units['ckpt']['params_total_m'] + units['a']['params_total_m']
    )
    assert rows['ST']['params'] == f'{units["a"]["params_total_m"]:.1f}x2'
    # frames per clip x epochs over CKPT's 8 x 1 (the same 4 videos)
    assert rows['A']['train_cost'] == pytest.approx(0.5)
    assert rows['ST']['train_cost'] == pytest.approx((2 + 4) / 8)
    assert rows['ENS']['train_cost'] == pytest.approx((8 + 4) / 8)
    seconds = {
        n: json.loads((work / n / 'study_row.json').read_text())['seconds']
        for n in ('a', 'b')
    }
    assert rows['ST']['train_seconds'] == pytest.approx(sum(seconds.values()))
    assert rows['CKPT']['train_seconds'] is None  # trained elsewhere


@pytest.mark.slow
def test_outputs_written(interrupted_study):
    """study.md (printed), study.csv, study.png and TensorBoard scalars."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    work = interrupted_study['work']
    table = json.loads((work / 'study.json').read_text())
    rows = {r['name']: r for r in table['rows']}
    md = (work / 'study.md').read_text()
    assert md.strip() in interrupted_study['second'][1]
    lines = md.splitlines()
    assert lines[0] == (
        '| row | params (M) | training cost | top-1 2f | top-1 4f | '
        'GFLOPs 2f | GFLOPs 4f |'
    )
    a2 = rows['A']['results']['2']
    assert f'| A | {rows["A"]["params"]} | 0.50 | {a2["top1"]:.2f} ' in md
    assert '|   paper |  |  | 12.50 |  |  |  |' in md
    assert f'| CKPT | {rows["CKPT"]["params"]} | 1.00 | ' in md
    assert '(ref)' in md and 'Protocol: efficient' in md
    csv_lines = (work / 'study.csv').read_text().splitlines()
    assert len(csv_lines) == 1 + 4 * len(FRAMES)
    assert csv_lines[1].startswith(
        f'CKPT,2,{rows["CKPT"]["results"]["2"]["top1"]}'
    )
    assert _png_size(work / 'study.png') == (600, 400)
    events = EventAccumulator(str(work / 'tensorboard'))
    events.Reload()
    for name in rows:
        scalars = events.Scalars(f'study/top1/{name}')
        assert [s.step for s in scalars] == list(FRAMES)
        assert [s.value for s in scalars] == pytest.approx(
            [rows[name]['results'][str(k)]['top1'] for k in FRAMES]
        )


def test_validation_errors_are_one_line_each(tmp_path):
    rows = [
        dict(name='T', config=DEMO, colour='red'),
        dict(name='T', config=DEMO),
        dict(name='E', ensemble=['T', 'nope']),
        dict(name='P', per_frames={4: 'E'}),
        dict(name='X', config=str(tmp_path / 'none.py')),
        dict(name='C1', config=DEMO, init_from='C2'),
        dict(name='C2', config=DEMO, init_from='C1'),
        dict(name='O', config=DEMO, cfg_options={'a.b': 'x y'}),
    ]
    study = _study_file(tmp_path / 's.py', tmp_path / 'w', rows)
    status, out, err = _run([study, '--train-only'])
    assert status == 2
    assert err.splitlines() == [
        f"error: {study}: rows[0] 'T': unknown key 'colour' for a config "
        'row (allowed: cfg_options, checkpoint, config, init_from, name, '
        'paper, show)',
        f"{study}: rows[1]: duplicate name 'T'",
        f"{study}: rows[4] 'X': config not found: {tmp_path / 'none.py'}",
        f"{study}: rows[7] 'O': cfg_options a.b='x y' cannot be passed to "
        "tools/train.py --cfg-options (it reads back as 'xy')",
        f"{study}: row 'E': ensemble names an unknown row 'nope'",
        f"{study}: row 'P': per_frames names 'E', which is not a config row",
        f'{study}: init_from cycle: C1 -> C2 -> C1',
    ]
    assert not (tmp_path / 'w').exists()  # nothing ran


def _fake_srun(tmp_path, monkeypatch) -> Path:
    """A fake ``srun`` on PATH writing its arguments to calls/<job>."""
    calls, bin_dir = tmp_path / 'calls', tmp_path / 'bin'
    calls.mkdir()
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(
        '#!/usr/bin/env bash\n'
        f'job=$(printf "%s\\n" "$@" | sed -n "s/^--job-name=//p")\n'
        f'printf "%s\\n" "$@" > {calls}/$job.tmp && '
        f'mv {calls}/$job.tmp {calls}/$job\n'
    )
    srun.chmod(0o755)
    monkeypatch.setenv('PATH', f'{bin_dir}:{os.environ["PATH"]}')
    monkeypatch.setenv('GPUS', '2')
    return calls


def test_slurm_sends_missing_rows_whose_dependencies_are_done(
    synthetic_ssv2, tmp_path, monkeypatch
):
    """P is finished (collected from its work dir), Q and R (from P) are
    sent, S waits on Q; a changed row stops the study until --retrain."""
    calls = _fake_srun(tmp_path, monkeypatch)
    config = _row_config(synthetic_ssv2, tmp_path / 'row.py')
    work = tmp_path / 'w'
    (work / 'p').mkdir(parents=True)
    torch.save({'meta': dict(epoch=1)}, work / 'p' / 'epoch_1.pth')
    (work / 'p' / 'last_checkpoint').write_text(
        str(work / 'p' / 'epoch_1.pth')
    )
    rows = [
        dict(name='P', config=config),
        dict(name='Q', config=config, cfg_options=dict(num_frames=2)),
        dict(name='R', config=config, init_from='P'),
        dict(name='S', config=config, init_from='Q'),
    ]
    study = _study_file(tmp_path / 's.py', work, rows)
    status, out, err = _run([study, '--slurm', 'gpu'])
    assert status == 0, err
    assert 'sent to SLURM: Q, R\n' in out and 'waiting: S (on Q)\n' in out
    deadline = time.monotonic() + 60
    while len(list(calls.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in calls.iterdir()) == ['q', 'r']
    q = (calls / 'q').read_text().splitlines()
    assert q[:5] == ['-p', 'gpu', '--job-name=q', '--gres=gpu:2', '--ntasks=2']
    train = q.index(study_api.training.TRAIN)
    assert q[train + 1 :] == [
        config,
        '--work-dir',
        str(work / 'q'),
        '--cfg-options',
        'num_frames=2',
        '--resume',
        '--launcher',
        'slurm',
    ]
    r = (calls / 'r').read_text().splitlines()
    assert f'load_from={work / "p" / "epoch_1.pth"}' in r
    record = json.loads((work / 'q' / 'study_row.json').read_text())
    assert record['cfg_options'] == {'num_frames': 2}
    # the study file now asks Q at 4 frames: one line, exit 2
    rows[1]['cfg_options'] = dict(num_frames=4)
    _study_file(tmp_path / 's.py', work, rows)
    status, out, err = _run([study, '--slurm', 'gpu'])
    assert status == 2
    assert err == (
        "error: row 'Q' changed since it was trained (cfg_options was "
        '{"num_frames": 2}, now {"num_frames": 4}): --retrain Q trains it '
        'again\n'
    )


def test_frames_per_clip_of_each_training_scheme():
    """The training cost's frames per clip: FFN runs every branch, Mixed
    the 16-frame clip, Proportional 16 with probability varrho, else 4."""
    from tsm_plugin.apis.study.cost import frames_per_clip
    from tsm_plugin.utils.config import load_config

    demo = REPO / 'configs' / 'studies' / 'demo'
    varrho = {'model.data_preprocessor.blending.varrho': 0.75}
    for name, options, frames in (
        ('tsm.py', None, 16),
        ('tsm.py', dict(num_frames=4), 4),
        ('ffn.py', None, 4 + 8 + 16),
        ('mixed.py', None, 16),
        ('proportional.py', None, 0.5 * 16 + 0.5 * 4),
        ('proportional.py', varrho, 0.75 * 16 + 0.25 * 4),
    ):
        cfg = load_config(str(demo / name), options)
        assert frames_per_clip(cfg) == frames, (name, options)
