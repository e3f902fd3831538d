"""Train what is missing: each config row in its own work dir, resumable.

A row's state is read from its work dir (``<work_dir>/<slug>/``) alone, so
a row trained by another process or a SLURM job is collected the same way:

* ``finished``: ``last_checkpoint`` names a complete checkpoint of the
  config's last epoch (``max_epochs`` after the row's ``cfg_options``);
* ``interrupted``: a resumable checkpoint of an earlier epoch: training
  resumes from it (``tools/train.py --resume``);
* ``new``: nothing to resume: training starts from scratch.

``study_row.json`` records what the row was trained with (config,
``cfg_options``, the checkpoint it started from) and the wall seconds of
each run; a study that later asks something else of the row stops with
one line until ``--retrain NAME``. Training runs ``tools/train.py`` as a
child process with this Python, its output in ``<row dir>/train.log``;
SIGINT or SIGTERM to the study reaches the child as SIGTERM, which saves a
checkpoint and exits 3 (:class:`~tsm_plugin.engine.hooks.PreemptionHook`).
"""

import contextlib
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional

from ...engine.checkpoint import (
    POINTER,
    find_resumable_checkpoint,
    load_checkpoint_file,
)
from ...errors import ConfigValueError, ExitStatus
from ...utils.atomic import write_json
from .options import canonical, option_args, row_config
from .spec import Study

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
)
TRAIN = osp.join(REPO, 'tools', 'train.py')
RECORD = 'study_row.json'
LOG = 'train.log'


class RowState(NamedTuple):
    """A row's training state: ``status`` (``given``, ``finished``,
    ``interrupted`` or ``new``), the checkpoint (final, or the one to
    resume), its epoch and the config's last epoch."""

    status: str
    checkpoint: Optional[str]
    epoch: int
    max_epochs: int


_EPOCHS: Dict[tuple, int] = {}


def checkpoint_epoch(path: str) -> int:
    """The epochs a checkpoint has completed: ``epoch_<N>.pth`` is N, else
    its ``meta.epoch`` (read once per file version)."""
    found = re.fullmatch(r'epoch_(\d+)\.pth', osp.basename(path))
    if found:
        return int(found.group(1))
    key = (osp.abspath(path), osp.getmtime(path), osp.getsize(path))
    if key not in _EPOCHS:
        ckpt = load_checkpoint_file(path, map_location='cpu')
        _EPOCHS[key] = int((ckpt.get('meta') or {}).get('epoch', 0))
    return _EPOCHS[key]


def read_json(path: str) -> Optional[dict]:
    """A JSON file's content; None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class Training:
    """The training state of the study's config rows, from their dirs."""

    def __init__(self, study: Study):
        self.study = study
        self._max: Dict[str, int] = {}

    def max_epochs(self, name: str) -> int:
        if name not in self._max:
            cfg = row_config(self.study.rows[name])
            self._max[name] = int(cfg.train_cfg.max_epochs)
        return self._max[name]

    def state(self, name: str) -> RowState:
        row = self.study.rows[name]
        if row.checkpoint is not None:
            return RowState('given', row.checkpoint, 0, 0)
        work = self.study.row_dir(name)
        last = self.max_epochs(name)
        found = None
        if osp.isfile(osp.join(work, POINTER)):
            found = find_resumable_checkpoint(work)
        if found is None:
            return RowState('new', None, 0, last)
        epoch = checkpoint_epoch(found)
        status = 'finished' if epoch >= last else 'interrupted'
        return RowState(status, found, epoch, last)

    def finished(self, name: str) -> Optional[str]:
        """The row's final checkpoint, or None while it is not trained."""
        state = self.state(name)
        return (
            state.checkpoint if state.status in ('given', 'finished') else None
        )

    def record(self, name: str) -> Optional[dict]:
        return read_json(osp.join(self.study.row_dir(name), RECORD))

    def asked(self, name: str) -> dict:
        """What the study asks the row to be trained with."""
        row = self.study.rows[name]
        init = None
        if row.init_from:
            ckpt = self.finished(row.init_from)
            init = dict(
                row=row.init_from,
                checkpoint=ckpt,
                mtime=osp.getmtime(ckpt) if ckpt else None,
            )
        return dict(
            config=row.config,
            cfg_options=_jsonable(row.cfg_options),
            init_from=init,
        )

    def check_unchanged(self, name: str) -> None:
        """Stop if the row's record differs from what the study asks.

        Raises:
            ConfigValueError: one line naming the row, what differs, and
                ``--retrain``.
        """
        record, asked = self.record(name), self.asked(name)
        if record is None:
            return
        changed = [
            f'{key} was {_short(record.get(key))}, now {_short(asked[key])}'
            for key in ('config', 'cfg_options')
            if canonical(record.get(key)) != canonical(asked[key])
        ]
        before, now = record.get('init_from'), asked['init_from']
        if (before is None) != (now is None):
            changed.append('init_from was added or removed')
        elif now and now['checkpoint'] and _init_key(before) != _init_key(now):
            changed.append(
                f'it started from {before.get("checkpoint")}, not from '
                f'{now["checkpoint"]} as it is now'
            )
        if changed:
            raise ConfigValueError(
                f'row {name!r} changed since it was trained '
                f'({"; ".join(changed)}): --retrain {_quote(name)} trains '
                'it again'
            )

    def begin(self, name: str) -> dict:
        """Write the row's record before a run (kept if it exists)."""
        os.makedirs(self.study.row_dir(name), exist_ok=True)
        record = self.record(name) or dict(
            self.asked(name), row=name, seconds=0.0, runs=[]
        )
        self.save(name, record)
        return record

    def save(self, name: str, record: dict) -> None:
        write_json(osp.join(self.study.row_dir(name), RECORD), record)

    def retrain(self, name: str) -> Optional[str]:
        """Set the row's work dir aside (``<dir>.old-<time>``); returns
        where it went (None: nothing was trained)."""
        work = self.study.row_dir(name)
        if not osp.isdir(work):
            return None
        aside = f'{work}.old-{time.strftime("%Y%m%d-%H%M%S")}'
        shutil.move(work, aside)
        return aside

    def command(self, name: str, resume: bool) -> List[str]:
        """``tools/train.py`` flags of a row: config, work dir, data root,
        ``--resume``, ``--cfg-options`` (with ``load_from`` for init_from)."""
        row = self.study.rows[name]
        args = [row.config, '--work-dir', self.study.row_dir(name)]
        if self.study.data_root:
            args += ['--data-root', self.study.data_root]
        if resume:
            args.append('--resume')
        options = dict(row.cfg_options)
        if row.init_from:
            options['load_from'] = self.finished(row.init_from)
        if options:
            args += ['--cfg-options', *option_args(options)]
        return args

    def order(self) -> List[str]:
        """The rows the study trains, each after the row it starts from."""
        ordered: List[str] = []

        def visit(name: str) -> None:
            row = self.study.rows[name]
            if row.init_from:
                visit(row.init_from)
            if row.trainable and name not in ordered:
                ordered.append(name)

        for name in self.study.needed():
            visit(name)
        return ordered


def _jsonable(value):
    """``value`` as JSON gives it back (tuples as lists, keys as str)."""
    return json.loads(canonical(value))


def _exit(status: int) -> str:
    """A child's exit status as words (a negative one: its signal)."""
    if status < 0:
        return f'killed by {signal.Signals(-status).name}'
    return f'exit status {status}'


def _init_key(init: dict) -> tuple:
    """The checkpoint a row started from: path and modification time."""
    return init.get('checkpoint'), init.get('mtime')


def _short(value, limit: int = 80) -> str:
    text = canonical(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _quote(name: str) -> str:
    return repr(name) if re.search(r'[^\w.-]', name) else name


class _Forward:
    """While a child trains: SIGINT/SIGTERM/SIGUSR1 to the study are sent
    on to it (SIGINT as SIGTERM, which the trainer saves on)."""

    SIGNALS = ('SIGINT', 'SIGTERM', 'SIGUSR1')

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.received: Optional[str] = None

    def __call__(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name
        sent = signal.SIGTERM if signum == signal.SIGINT else signum
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sent)

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {
            name: signal.signal(getattr(signal, name), self)
            for name in self.SIGNALS
            if hasattr(signal, name)
        }
        try:
            yield self
        finally:
            for name, handler in previous.items():
                signal.signal(getattr(signal, name), handler)


def run_child(cmd: List[str], log_path: str) -> tuple:
    """Run ``cmd`` with its output appended to ``log_path``; returns
    ``(exit status, seconds, signal the study received or None)``."""
    with open(log_path, 'a') as log:
        log.write(
            f'\n# {time.strftime("%Y-%m-%d %H:%M:%S")}: {" ".join(cmd)}\n'
        )
        log.flush()
        start = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # signals reach it through the study
        )
        with _Forward(proc).installed() as forward:
            status = proc.wait()
    return status, time.monotonic() - start, forward.received


def train_row(
    training: Training, name: str, index: str, say: Callable = print
) -> int:
    """Train (or resume) one row; returns 0, or the study's exit status."""
    study, state = training.study, training.state(name)
    resume = state.status == 'interrupted'
    cmd = [sys.executable, TRAIN, *training.command(name, resume)]
    record = training.begin(name)
    log = osp.join(study.row_dir(name), LOG)
    first = state.epoch + 1
    say(
        f'{index} {name}: epochs {first}-{state.max_epochs}'
        + (
            f' (resumed from {osp.basename(state.checkpoint)})'
            if resume
            else ''
        )
        + ' ...',
        end='',
        flush=True,
    )
    status, seconds, received = run_child(cmd, log)
    record['seconds'] = round(record.get('seconds', 0.0) + seconds, 3)
    record['runs'].append(
        dict(from_epoch=first, seconds=round(seconds, 3), exit_status=status)
    )
    training.save(name, record)
    if status == 0 and training.state(name).status == 'finished':
        say(f' done in {seconds:.1f} s')
        return 0
    say(f' stopped after {seconds:.1f} s')
    if received or status == ExitStatus.PREEMPTED:
        sys.stderr.write(
            f'interrupted: row {name!r} stopped'
            + (f' on {received}' if received else '')
            + f' ({_exit(status)}); run the same command again to '
            f'resume it from its last checkpoint (log: {log})\n'
        )
        return int(ExitStatus.PREEMPTED)
    sys.stderr.write(
        f'error: row {name!r}: training failed ({_exit(status)}); log: {log}\n'
    )
    return status if status == ExitStatus.INPUT else int(ExitStatus.ERROR)


def train_missing(training: Training, say: Callable = print) -> int:
    """Train every missing row in dependency order; 0 or the exit status
    of the first row that did not finish."""
    todo = []
    for name in training.order():
        training.check_unchanged(name)
        if training.state(name).status != 'finished':
            todo.append(name)
    for i, name in enumerate(todo):
        training.check_unchanged(name)  # its init row may be new now
        status = train_row(training, name, f'[{i + 1}/{len(todo)}]', say)
        if status:
            return status
    return 0
