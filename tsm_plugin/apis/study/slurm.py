"""``--slurm PARTITION``: one SLURM job per missing row, then exit.

Each missing row whose ``init_from`` row is finished is sent to
``tools/slurm_train.sh PARTITION <slug> CONFIG --work-dir <row dir>
[--data-root DIR] [--cfg-options ...]`` (which resumes from the row's last
checkpoint and requeues on preemption), in the background, its output in
``<row dir>/train.log``, with this environment (``GPUS``,
``GPUS_PER_NODE``, ``CPUS_PER_TASK``, ``SRUN_ARGS``...). A row waiting on
an unfinished row is listed, and so is a row whose job is still running
(its launcher process alive on this host). Rerunning the same command
collects the finished rows (:mod:`.training` reads each row's state from
its work dir), sends the next ones, and once every row is finished goes on
to the evaluation.
"""

import os
import os.path as osp
import shlex
import socket
import subprocess
import time
from typing import Callable, Dict, List, Optional

from .training import LOG, REPO, Training

SLURM_TRAIN = osp.join(REPO, 'tools', 'slurm_train.sh')
#: The launchers started by this process (kept: they outlive the study).
_LAUNCHED: List[subprocess.Popen] = []


def _alive(submitted: Optional[dict]) -> bool:
    """Whether a row's launcher process still runs on this host."""
    if not submitted or submitted.get('host') != socket.gethostname():
        return False
    try:
        os.kill(int(submitted['pid']), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def submit(training: Training, name: str, partition: str) -> List[str]:
    """Start ``tools/slurm_train.sh`` for one row, detached; returns the
    command."""
    study = training.study
    row = study.rows[name]
    # slurm_train.sh resumes by itself: no --resume here.
    args = training.command(name, resume=False)
    cmd = ['bash', SLURM_TRAIN, partition, row.slug, *args]
    record = training.begin(name)
    log = osp.join(study.row_dir(name), LOG)
    with open(log, 'a') as out:
        out.write(f'\n# {time.strftime("%Y-%m-%d %H:%M:%S")}: ')
        out.write(shlex.join(cmd) + '\n')
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the study
        )
    _LAUNCHED.append(proc)
    record['submitted'] = dict(
        pid=proc.pid,
        host=socket.gethostname(),
        time=time.strftime('%Y-%m-%d %H:%M:%S'),
        command=cmd,
    )
    training.save(name, record)
    return cmd


def submit_missing(
    training: Training, partition: str, say: Callable = print
) -> Dict[str, List[str]]:
    """Send every missing row whose dependencies are finished.

    Returns:
        dict: row names under ``sent``, ``running`` and ``waiting`` (each
        empty when every row is finished).
    """
    out = dict(sent=[], running=[], waiting=[])
    for name in training.order():
        training.check_unchanged(name)
        if training.state(name).status == 'finished':
            continue
        record = training.record(name) or {}
        init = training.study.rows[name].init_from
        if _alive(record.get('submitted')):
            out['running'].append(name)
        elif init and training.finished(init) is None:
            out['waiting'].append(f'{name} (on {init})')
        else:
            cmd = submit(training, name, partition)
            say(f'submitted {name}: {shlex.join(cmd)}')
            out['sent'].append(name)
    return out


def report(out: Dict[str, List[str]], rerun: str, say: Callable = print):
    """The lines after a submission: what was sent, runs, waits."""
    for key, what in (
        ('sent', 'sent to SLURM'),
        ('running', 'still running'),
        ('waiting', 'waiting'),
    ):
        if out[key]:
            say(f'{what}: {", ".join(out[key])}')
    say(f'run the same command again when they finish: {rerun}')
