"""Atomic checkpoints (a kill at any moment leaves a resumable work dir) and
safe loading (a checkpoint never runs code)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _toy
from tests.helpers import DEMO, REPO, Payload, capture_hook
from tsm_plugin.engine import checkpoint as ckpt
from tsm_plugin.engine.hooks import Preempted, PreemptionHook
from tsm_plugin.errors import InputError
from tsm_plugin.utils import atomic

# A child that trains the toy model for 3 epochs, keeping ONE checkpoint
# (mmengine deletes the previous one before writing the next), and SIGKILLs
# itself while saving the checkpoint named ``target`` at the ``moment``
# named. An ``iter_N.pth`` is a preemption save: SIGTERM in iteration N.
# One interpreter imports the stack once and forks a child per case (each
# child patches only itself), then prints each child's exit status.
KILLER = textwrap.dedent("""
    import json, os, signal, sys
    # What the Runner imports lazily: once here, not once per fork.
    import matplotlib.pyplot, torch._dynamo
    from tests.engine import _toy
    from tsm_plugin.engine.hooks import PreemptionHook
    from tsm_plugin.utils import atomic

    def train_and_die(work_dir, moment, target):
        def die():
            os.kill(os.getpid(), signal.SIGKILL)

        write, replace = atomic.AtomicFile.write, os.replace
        def killing_write(self, data):
            if moment == 'mid-write' and self.path.endswith(target):
                self._file.write(data[:len(data) // 2])
                self._file.flush()
                die()
            if moment == 'before-pointer' and self.path.endswith(
                    'last_checkpoint') and target in data:
                die()
            return write(self, data)
        def killing_replace(src, dst):
            if moment == 'before-rename' and dst.endswith(target):
                die()
            return replace(src, dst)
        atomic.AtomicFile.write = killing_write
        atomic.os.replace = killing_replace
        preempt = target.startswith('iter_')
        hooks = ([PreemptionHook(), _toy.SigtermAt(int(target[5:-4]))]
                 if preempt else [])
        _toy.make_runner(work_dir, max_epochs=3, max_keep_ckpts=1,
                         resumable=preempt, custom_hooks=hooks).train()

    status = {}
    for case in json.loads(sys.argv[1]):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                train_and_die(*case)
            except BaseException:
                import traceback
                traceback.print_exc()
            os._exit(1)  # it was not killed
        _, code = os.waitpid(pid, 0)
        status[case[0]] = (-os.WTERMSIG(code) if os.WIFSIGNALED(code)
                           else os.WEXITSTATUS(code))
    print('STATUS ' + json.dumps(status))
""")
# The repository root, where ``tests.engine._toy`` is found.
CHILD_ENV = dict(os.environ, PYTHONPATH=str(REPO))
KILLS = [
    ('mid-write', 'epoch_2.pth'),
    ('before-rename', 'epoch_2.pth'),
    ('before-pointer', 'epoch_2.pth'),
    # A preemption save (iteration 6 = epoch 2, batch 2) killed likewise.
    ('mid-write', 'iter_6.pth'),
    ('before-rename', 'iter_6.pth'),
]


@pytest.fixture(scope='module')
def killed_saves(tmp_path_factory):
    """Each case of KILLS killed in its own work dir: {case: (work dir,
    exit status, the children's stderr)}."""
    root = tmp_path_factory.mktemp('killed')
    cases = [(str(root / f'{m}-{t[:-4]}'), m, t) for m, t in KILLS]
    child = subprocess.run(
        [sys.executable, '-c', KILLER, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        env=CHILD_ENV,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    line = next(
        ln for ln in child.stdout.splitlines() if ln.startswith('STATUS ')
    )
    status = json.loads(line[len('STATUS ') :])
    return {
        (m, t): (Path(work), status[work], child.stderr)
        for work, m, t in cases
    }


@pytest.mark.slow
@pytest.mark.parametrize('moment,target', KILLS)
def test_kill_during_checkpoint_save_leaves_resumable_work_dir(
    killed_saves, moment, target
):
    tmp_path, returncode, stderr = killed_saves[moment, target]
    assert returncode == -signal.SIGKILL, stderr[-2000:]

    pointer = (tmp_path / 'last_checkpoint').read_text().strip()
    assert pointer.endswith('epoch_1.pth')
    # The file it names is complete: mmengine would have deleted it already
    # (max_keep_ckpts=1) and left a half-written epoch_2.pth.
    assert ckpt.is_complete_checkpoint(pointer)
    assert torch.load(pointer)['meta']['epoch'] == 1
    killed = tmp_path / target
    assert not killed.exists() or ckpt.is_complete_checkpoint(str(killed))

    capture = capture_hook()
    runner = _toy.make_runner(
        tmp_path,
        max_epochs=3,
        resume=True,
        custom_hooks=[capture],
        resumable=target.startswith('iter_'),
    )
    runner.train()
    assert capture.start == (1, 4)  # epoch 1 done, 4 iterations of 2
    assert runner.epoch == 3
    assert (
        (tmp_path / 'last_checkpoint')
        .read_text()
        .strip()
        .endswith('epoch_3.pth')
    )
    # The killed save's temporary file was cleared; only the kept remains.
    assert sorted(
        p.name for p in tmp_path.iterdir() if p.suffix in ('.pth', '.tmp')
    ) == ['epoch_3.pth']


@pytest.mark.slow
def test_preemption_checkpoints_count_towards_max_keep_ckpts(tmp_path):
    """Preempted five times (SIGTERM, resume, ...) with max_keep_ckpts=2:
    never more than the 2 newest checkpoints, last_checkpoint at the
    newest, every resume at the next batch, and the end the same as an
    uninterrupted run's."""
    stops = (2, 3, 6, 7, 10)  # 4 iterations per epoch, 12 in all
    # The saves in order: a preemption's iter_N.pth, each epoch's end.
    saves = [
        'iter_2',
        'iter_3',
        'epoch_1',
        'iter_6',
        'iter_7',
        'epoch_2',
        'iter_10',
        'epoch_3',
    ]
    work, done, resume = tmp_path / 'work', 0, False

    def preemptible(resume, *hooks):
        """The run (3 epochs, 2 checkpoints kept) and what it starts from."""
        capture = capture_hook()
        runner = _toy.make_runner(
            work,
            max_epochs=3,
            resume=resume,
            max_keep_ckpts=2,
            resumable=True,
            custom_hooks=[PreemptionHook(), *hooks, capture],
        )
        return runner, capture

    for stop in stops:
        runner, capture = preemptible(resume, _toy.SigtermAt(stop))
        with pytest.raises(Preempted) as stopped:
            runner.train()
        assert capture.start == (done // 4, done)  # went on where it was
        newest = str(work / f'iter_{stop}.pth')
        assert stopped.value.checkpoint == newest
        assert (work / 'last_checkpoint').read_text() == newest
        saved = saves[: saves.index(f'iter_{stop}') + 1]
        assert sorted(p.name for p in work.glob('*.pth')) == sorted(
            f'{name}.pth' for name in saved[-2:]
        )
        assert torch.load(newest)['meta']['iter'] == stop
        done, resume = stop, True

    runner, capture = preemptible(True)
    runner.train()
    assert capture.start == (2, 10) and runner.iter == 12
    assert sorted(p.name for p in work.glob('*.pth')) == [
        'epoch_3.pth',
        'iter_10.pth',
    ]
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_3.pth')

    whole = _toy.make_runner(tmp_path / 'whole', max_epochs=3, resumable=True)
    whole.train()
    for key, value in whole.model.state_dict().items():
        assert torch.equal(runner.model.state_dict()[key], value), key


def test_atomic_file_keeps_old_content_on_error(tmp_path):
    path = tmp_path / 'f.txt'
    atomic.atomic_write(path, 'old')
    with pytest.raises(ZeroDivisionError):
        with atomic.AtomicFile(path, 'w') as f:
            f.write('new, half')
            1 / 0
    assert path.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['f.txt']


def test_resume_falls_back_when_last_checkpoint_is_broken(tmp_path):
    _toy.make_runner(tmp_path, max_epochs=2, max_keep_ckpts=-1).train()
    # A moved work dir: last_checkpoint holds a path that no longer exists,
    # but the file is here under the same name.
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/epoch_2.pth')
    found = ckpt.find_resumable_checkpoint(str(tmp_path))
    assert found == str(tmp_path / 'epoch_2.pth')
    # The named file is truncated (copied by hand, cut off): the newest
    # complete checkpoint is used instead.
    data = (tmp_path / 'epoch_2.pth').read_bytes()
    (tmp_path / 'epoch_2.pth').write_bytes(data[: len(data) // 3])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert ckpt.find_resumable_checkpoint(str(tmp_path)) == str(
        tmp_path / 'epoch_1.pth'
    )
    (tmp_path / 'last_checkpoint').unlink()
    assert ckpt.find_resumable_checkpoint(str(tmp_path)) is None


def _malicious_checkpoint(tmp_path):
    """A real mmengine checkpoint with one extra pickled object."""
    _toy.make_runner(tmp_path / 'run', max_epochs=1).train()
    good = torch.load(tmp_path / 'run' / 'epoch_1.pth')
    target = tmp_path / 'pwned'
    good['meta']['note'] = Payload(target)
    evil = tmp_path / 'evil.pth'
    torch.save(good, evil)
    return evil, target


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, monkeypatch):
    evil, target = _malicious_checkpoint(tmp_path)
    # Even when the environment asks torch to load without weights_only.
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    for resume in (True, False):  # --resume CKPT and load_from=CKPT
        runner = _toy.make_runner(
            tmp_path / 'w', resume=resume, load_from=str(evil)
        )
        with pytest.raises(InputError) as err:
            runner.train()
        assert str(err.value).startswith(f'checkpoint refused: {evil}')
        assert '(pathlib.Path)' in str(err.value)  # what it would call
        assert '\n' not in str(err.value)
    assert not target.exists()
    # Stock torch.load (weights_only=False under that variable) would run it.
    torch.load(evil, weights_only=False)
    assert target.exists()


def test_bad_checkpoint_files_fail_with_one_line(tmp_path):
    _toy.make_runner(tmp_path / 'run', max_epochs=1).train()
    data = (tmp_path / 'run' / 'epoch_1.pth').read_bytes()
    cases = {
        'truncated.pth': data[: len(data) // 2],
        'empty.pth': b'',
        'text.pth': b'not a checkpoint\n',
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ckpt.CheckpointError) as err:
            ckpt.load_checkpoint_file(str(path))
        message = str(err.value)
        assert str(path) in message and '\n' not in message, message
        assert 'incomplete' in message or 'not a PyTorch' in message
    with pytest.raises(ckpt.CheckpointError, match='not found'):
        ckpt.load_checkpoint_file(str(tmp_path / 'missing.pth'))
    # A good one loads, values intact.
    loaded = ckpt.load_checkpoint_file(str(tmp_path / 'run' / 'epoch_1.pth'))
    assert loaded['meta']['epoch'] == 1 and 'state_dict' in loaded


@pytest.mark.slow
def test_test_cli_refuses_malicious_checkpoint_in_one_line(
    tmp_path, synthetic_ssv2, capsys
):
    """tools/test.py's main (its start from any directory is
    tests/apis/test_train.py's)."""
    from tsm_plugin.apis import test as test_api

    evil, target = _malicious_checkpoint(tmp_path)
    capsys.readouterr()
    status = test_api.main(
        [
            DEMO,
            str(evil),
            '--data-root',
            str(synthetic_ssv2),
            '--work-dir',
            str(tmp_path / 'w'),
            '--num-workers',
            '0',
        ]
    )
    err = capsys.readouterr().err
    assert status == 2, err[-2000:]
    assert err.strip() == (
        f'error: checkpoint refused: {evil} holds a pickled object that '
        'mmengine/mmaction2 checkpoints never contain (pathlib.Path); '
        'nothing from it was run. Load only checkpoints from a trusted '
        'source.'
    )
    assert not target.exists()
