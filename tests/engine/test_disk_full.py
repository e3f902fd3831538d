"""A full disk at a checkpoint save: one line, exit status 4, the last
complete checkpoint kept and named, and ``--resume`` continues from it.

The filesystem too small for the run is simulated (no tmpfs can be mounted
without root): :class:`FakeDisk` holds the work dir in ``capacity`` bytes,
reports its free space through ``shutil.disk_usage`` and makes the atomic
writer fail with ``ENOSPC`` where the real disk would, after writing what
fits.
"""

import collections
import errno
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.logging import MessageHub

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _tiny
from tests.helpers import one_thread_fixture
from tsm_plugin.apis import _cli
from tsm_plugin.apis import train as train_api
from tsm_plugin.engine.checkpoint import is_complete_checkpoint
from tsm_plugin.errors import ExitStatus, InputError, WriteError
from tsm_plugin.utils import atomic, disk_space

one_thread = one_thread_fixture('module')
Usage = collections.namedtuple('Usage', 'total used free')
#: The issue's filesystem: the tiny config's first checkpoint (SGD with
#: momentum, ~89.6 MB) fits, the second does not.
CAPACITY = 120 * 10**6
#: What the capture hook saw: {(epoch, 'weights' | 'sizes'): value}.
SEEN = {}


class FakeDisk:
    """``capacity`` bytes holding ``root``: free space is the capacity less
    the files under ``root``; an atomic write that does not fit writes
    what fits, then fails with ENOSPC."""

    def __init__(self, root: Path, capacity: int):
        self.root, self.capacity = root, capacity

    def used(self) -> int:
        return sum(
            os.path.getsize(os.path.join(folder, name))
            for folder, _, names in os.walk(self.root)
            for name in names
        )

    def free(self) -> int:
        return max(0, self.capacity - self.used())

    def install(self, monkeypatch) -> None:
        real_usage, real_write = shutil.disk_usage, atomic.AtomicFile.write

        def usage(path):
            if not str(path).startswith(str(self.root)):
                return real_usage(path)
            used = self.used()
            return Usage(self.capacity, used, max(0, self.capacity - used))

        def write(f, data):
            room = self.free()
            if len(data) > room:
                real_write(f, data[:room])
                f._file.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(f, data)

        monkeypatch.setattr(shutil, 'disk_usage', usage)
        monkeypatch.setattr(atomic.AtomicFile, 'write', write)


def _capture_hook_type() -> str:
    """Register a hook recording, before each epoch's save, the weights
    and the estimated checkpoint sizes."""
    from mmaction.registry import HOOKS
    from mmengine.hooks import Hook

    @HOOKS.register_module(name='_TestDiskFullCapture', force=True)
    class Capture(Hook):
        priority = 'HIGHEST'  # before the checkpoint hook saves

        def after_train_epoch(self, runner):
            state = runner.model.state_dict()
            SEEN[runner.epoch, 'weights'] = {
                k: v.clone() for k, v in state.items()
            }
            optimizer = runner.optim_wrapper.optimizer
            SEEN[runner.epoch, 'sizes'] = disk_space.checkpoint_sizes(
                runner.model,
                dict(type='SGD', **optimizer.defaults),
            )

    return '_TestDiskFullCapture'


@pytest.mark.slow
def test_full_disk_at_save_exits_4_and_resume_continues(
    synthetic_ssv2, tmp_path, monkeypatch, capsys
):
    work = tmp_path / 'work'
    config = tmp_path / 'tiny.py'
    cfg = _tiny.reliability_cfg(synthetic_ssv2, work, epochs=2, indices=4)
    cfg.custom_hooks = [dict(type=_capture_hook_type())]
    # One kept: epoch 1 must survive the failed save of its successor.
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.dump(str(config))
    SEEN.clear()
    capsys.readouterr()
    with monkeypatch.context() as patch:
        FakeDisk(work, CAPACITY).install(patch)
        status = train_api.main([str(config), '--work-dir', str(work)])
    out, err = capsys.readouterr()
    assert status == ExitStatus.WRITE == 4, err[-3000:]

    # One line: the file, the bytes it needed and the bytes free, the last
    # complete checkpoint; no traceback.
    first, second = work / 'epoch_1.pth', work / 'epoch_2.pth'
    line = err.strip().splitlines()[-1]
    assert 'Traceback' not in out + err
    found = re.fullmatch(
        rf'error: writing {second} failed: No space left on device '
        rf'\(needs ([\d,]+) bytes = [\d.]+ MiB; ([\d,]+) bytes = [\d.]+ '
        rf'MiB free in {work}\); the last complete checkpoint is {first} '
        r'\(named by last_checkpoint\): free some space, then rerun with '
        r'--resume to continue from it',
        line,
    )
    assert found, line
    needed, free = (int(g.replace(',', '')) for g in found.groups())
    size = first.stat().st_size
    assert abs(needed - size) < 4096  # the same checkpoint, one epoch on
    assert 0 < free < needed <= CAPACITY - size + needed
    # The work dir: epoch 1 whole and named; nothing of epoch 2.
    assert (work / 'last_checkpoint').read_text() == str(first)
    assert is_complete_checkpoint(str(first))
    assert [p.name for p in work.glob('*.pth')] == ['epoch_1.pth']
    assert not list(work.glob(f'.*{atomic.TMP_SUFFIX}'))

    # The start of training warned once that 2 checkpoints (1 kept + 1
    # being written) do not fit.
    warnings = [w for w in out.splitlines() if 'Not enough space for the' in w]
    assert len(warnings) == 1, warnings
    assert '= 2 checkpoints of' in warnings[0], warnings[0]
    # The estimate of a checkpoint: at least its real size, within 1 %.
    estimate = SEEN[0, 'sizes'].full
    assert size <= estimate <= size * 1.01, (size, estimate)

    # --resume continues from epoch_1.pth and ends where the first run
    # stood when its save failed.
    interrupted = SEEN.pop((1, 'weights'))
    SEEN.clear()
    status = train_api.main([str(config), '--work-dir', str(work), '--resume'])
    assert status == 0, capsys.readouterr().err[-3000:]
    assert sorted(k for k in SEEN if k[1] == 'weights') == [(1, 'weights')]
    saved = torch.load(second)
    assert (saved['meta']['epoch'], saved['meta']['iter']) == (2, 4)
    assert saved['state_dict'].keys() == interrupted.keys()
    for key, value in interrupted.items():
        assert torch.equal(saved['state_dict'][key], value), key
    assert (work / 'last_checkpoint').read_text() == str(second)
    assert [p.name for p in work.glob('*.pth')] == ['epoch_2.pth']


def test_refused_commit_removes_the_temporary(tmp_path, monkeypatch):
    """ENOSPC or a quota at fsync (NFS reports it there) leaves the old
    file and no temporary, as a failed write does."""
    path = tmp_path / 'report.json'
    atomic.write_json(path, {'old': 1})

    def no_quota(fd):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(atomic.os, 'fsync', no_quota)
    with pytest.raises(WriteError) as err:
        atomic.write_json(path, {'new': 2})
    assert err.value.errno == errno.EDQUOT
    assert err.value.needed == len('{\n  "new": 2\n}\n')
    assert str(err.value).startswith(
        f'writing {path} failed: Disk quota exceeded (needs 15 bytes; '
    )
    assert [p.name for p in tmp_path.iterdir()] == ['report.json']
    assert path.read_text() == '{\n  "old": 1\n}\n'


def test_cli_turns_a_full_disk_under_mmengine_into_one_line(tmp_path, capsys):
    """A log or scalars write of mmengine failing with ENOSPC: one line
    naming it and the work dir's last complete checkpoint, status 4; any
    other OSError keeps its traceback."""
    ckpt = tmp_path / 'epoch_3.pth'
    torch.save({'state_dict': {}}, ckpt)
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    scalars = tmp_path / '20250101_000000' / 'vis_data' / 'scalars.json'

    def full(args):
        raise OSError(errno.ENOSPC, 'No space left on device', str(scalars))

    assert _cli.run_cli(full, None) == ExitStatus.WRITE
    line = capsys.readouterr().err
    assert line.startswith(
        f'error: writing {scalars} failed: No space left on device ('
    )
    assert line.endswith(
        f'the last complete checkpoint is {ckpt} (named by last_checkpoint)'
        ': free some space, then rerun with --resume to continue from it\n'
    )
    assert line.count('\n') == 1

    # A file object's write names no file: the run's last save does.
    hub = MessageHub.get_instance(f'disk_full_{os.getpid()}')
    hub.update_info('last_ckpt', str(ckpt))

    def full_unnamed(args):
        raise OSError(errno.ENOSPC, 'No space left on device')

    assert _cli.run_cli(full_unnamed, None) == ExitStatus.WRITE
    assert capsys.readouterr().err == (
        'error: a write failed: No space left on device; the last complete '
        f'checkpoint is {ckpt} (named by last_checkpoint): free some space, '
        'then rerun with --resume to continue from it\n'
    )

    def missing(args):
        raise FileNotFoundError(errno.ENOENT, 'No such file', 'x')

    with pytest.raises(FileNotFoundError):
        _cli.run_cli(missing, None)


def test_a_final_status_is_left_for_the_restart_loops(tmp_path, monkeypatch):
    """Bad input (2) and a refused write (4) are written to
    $TSM_FINAL_STATUS_FILE, which tools/launch.sh and tools/slurm_train.sh
    read before a restart; a success leaves it empty."""
    final = tmp_path / 'final'
    final.write_text('')
    monkeypatch.setenv('TSM_FINAL_STATUS_FILE', str(final))

    def bad_input(args):
        raise InputError('config file not found: x.py')

    def full(args):
        raise OSError(errno.ENOSPC, 'No space left on device', 'x.pth')

    assert _cli.run_cli(lambda args: 0, None) == 0
    assert final.read_text() == ''
    assert _cli.run_cli(bad_input, None) == ExitStatus.INPUT
    assert final.read_text() == '2\n'
    assert _cli.run_cli(full, None) == ExitStatus.WRITE
    assert final.read_text() == '4\n'
