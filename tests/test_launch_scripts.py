"""The launch scripts (tools/dist_*.sh, tools/slurm_*.sh -> tools/launch.sh):
the command lines they build, recorded by a fake interpreter and a fake
srun/scontrol. The real 2-process runs are in tests/test_distributed.py."""

import os
import sys
import textwrap

import pytest

from tests.helpers import TOOLS, clean_env, run_script


# --------------------------------------------------------------------------
# tools/dist_*.sh -> tools/launch.sh: the torchrun command line, recorded
# by a fake interpreter
# --------------------------------------------------------------------------
@pytest.fixture
def fake_python(tmp_path):
    """An interpreter that records a torchrun call; `-c` runs for real."""
    log = tmp_path / 'python.args'
    fake = tmp_path / 'python'
    fake.write_text(
        textwrap.dedent(f"""\
        #!/usr/bin/env bash
        if [ "$1" = -c ]; then exec {sys.executable} "$@"; fi
        printf '%s\\n' "$@" > {log}
    """)
    )
    fake.chmod(0o755)
    return fake, log


def torchrun_args(fake_python, tmp_path, script, *args, **env):
    fake, log = fake_python
    out = run_script(
        script, *args, cwd=tmp_path, env=clean_env(PYTHON=str(fake), **env)
    )
    assert out.returncode == 0, out.stderr
    return log.read_text().splitlines()


def test_dist_train_single_node_command(fake_python, tmp_path):
    argv = torchrun_args(
        fake_python,
        tmp_path,
        'dist_train.sh',
        'configs/x.py',
        '2',
        '--work-dir',
        'w',
    )
    port = int(argv[5].split('=')[1])
    assert 1024 <= port < 65536  # a free port the OS handed out
    assert argv == [
        '-m',
        'torch.distributed.run',
        '--nnodes=1',
        '--node_rank=0',
        '--master_addr=127.0.0.1',
        f'--master_port={port}',
        '--nproc_per_node=2',
        str(TOOLS / 'train.py'),
        'configs/x.py',
        '--work-dir',
        'w',
        '--launcher',
        'pytorch',
    ]


def test_dist_test_multi_node_command(fake_python, tmp_path):
    argv = torchrun_args(
        fake_python,
        tmp_path,
        'dist_test.sh',
        'c.py',
        'e.pth',
        '8',
        '--batch-size',
        '4',
        NNODES='2',
        NODE_RANK='1',
        MASTER_ADDR='10.0.0.1',
    )
    assert argv == [
        '-m',
        'torch.distributed.run',
        '--nnodes=2',
        '--node_rank=1',
        '--master_addr=10.0.0.1',
        '--master_port=29500',
        '--nproc_per_node=8',
        str(TOOLS / 'test.py'),
        'c.py',
        'e.pth',
        '--batch-size',
        '4',
        '--launcher',
        'pytorch',
    ]


@pytest.mark.parametrize('var', ['MASTER_PORT', 'PORT'])
def test_dist_train_port_override(fake_python, tmp_path, var):
    argv = torchrun_args(
        fake_python, tmp_path, 'dist_train.sh', 'c.py', '1', **{var: '12345'}
    )
    assert '--master_port=12345' in argv


@pytest.mark.parametrize(
    'script, nargs',
    [
        ('dist_train.sh', 1),
        ('dist_test.sh', 2),
        ('slurm_train.sh', 2),
        ('slurm_test.sh', 3),
        ('launch.sh', 0),
        ('launch.sh', 2),
    ],
)
def test_scripts_print_usage(tmp_path, script, nargs):
    out = run_script(script, *['x'] * nargs, cwd=tmp_path, env=clean_env())
    assert out.returncode == 2
    assert out.stderr.startswith('usage: ')


# --------------------------------------------------------------------------
# MAX_RESTARTS: tools/launch.sh starts torchrun again after a failure
# --------------------------------------------------------------------------
@pytest.fixture
def failing_python(tmp_path):
    """An interpreter whose torchrun calls exit with the statuses in
    FAKE_STATUSES, one per call (the last one repeats), each call logging
    its TSM_RESTART_COUNT and TSM_MAX_RESTARTS; with FAKE_SLEEP it waits
    for a signal instead; with FAKE_FINAL it writes that status to
    TSM_FINAL_STATUS_FILE, as a tool stopping on bad input or a refused
    write does."""
    calls = tmp_path / 'calls'
    fake = tmp_path / 'python'
    fake.write_text(
        textwrap.dedent(f"""\
        #!/usr/bin/env bash
        if [ "$1" = -c ]; then exec {sys.executable} "$@"; fi
        echo "$TSM_RESTART_COUNT/$TSM_MAX_RESTARTS" >> {calls}
        if [ -n "${{FAKE_SLEEP:-}}" ]; then
            trap 'kill $s; echo TERM >> {calls}; exit 143' TERM
            sleep 30 > /dev/null 2>&1 &
            s=$!
            wait
        fi
        if [ -n "${{FAKE_FINAL:-}}" ]; then
            echo "$FAKE_FINAL" > "$TSM_FINAL_STATUS_FILE"
        fi
        statuses=($FAKE_STATUSES)
        n=$(wc -l < {calls})
        exit "${{statuses[n - 1]:-${{statuses[-1]}}}}"
    """)
    )
    fake.chmod(0o755)

    def run(*statuses, restarts='2', final=''):
        out = run_script(
            'dist_train.sh',
            'c.py',
            '2',
            cwd=tmp_path,
            env=clean_env(
                PYTHON=str(fake),
                MAX_RESTARTS=restarts,
                FAKE_STATUSES=' '.join(map(str, statuses)),
                FAKE_FINAL=final,
            ),
        )
        return out, calls.read_text().splitlines()

    return run


def test_dist_train_restarts_after_a_failure(failing_python):
    out, calls = failing_python(1, 1, 0)
    assert out.returncode == 0, out.stderr
    assert calls == ['0/2', '1/2', '2/2']
    assert 'torchrun failed (status 1): restart 1 of 2' in out.stderr
    assert 'restart 2 of 2' in out.stderr


def test_dist_train_gives_up_after_max_restarts(failing_python):
    out, calls = failing_python(1)
    assert out.returncode == 1
    assert calls == ['0/2', '1/2', '2/2']


@pytest.mark.parametrize('final', ['2', '4'])
def test_a_status_no_restart_can_change_ends_the_job(failing_python, final):
    """torchrun reports a worker's bad input (2) or refused write (4) as
    1; the worker's TSM_FINAL_STATUS_FILE tells the loop not to restart."""
    out, calls = failing_python(1, 0, final=final)
    assert out.returncode == int(final)
    assert calls == ['0/2']
    assert f'training stopped with status {final}' in out.stderr
    assert 'restart 1' not in out.stderr


def test_dist_train_without_restarts_runs_once(failing_python):
    out, calls = failing_python(1, restarts='0')
    assert out.returncode == 1
    assert calls == ['/']  # exec'd torchrun, no restart variables


def test_a_signal_ends_the_restarts(failing_python, tmp_path):
    """SIGTERM to dist_train.sh reaches torchrun (which saves, as on a
    preemption) and is not answered with a restart."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        ['bash', str(TOOLS / 'dist_train.sh'), 'c.py', '2'],
        cwd=tmp_path,
        env=clean_env(
            PYTHON=str(tmp_path / 'python'),
            MAX_RESTARTS='2',
            FAKE_STATUSES='0',
            FAKE_SLEEP='1',
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    calls = tmp_path / 'calls'
    deadline = time.monotonic() + 20
    while not calls.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the fake's trap is set
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert calls.read_text().splitlines() == ['0/2', 'TERM']
    assert 'restart' not in err


@pytest.mark.parametrize('script', ['dist_train.sh', 'slurm_train.sh'])
@pytest.mark.parametrize('value', ['x', '-1', '1.5'])
def test_a_bad_max_restarts_is_one_line(tmp_path, script, value):
    args = ['p', 'j', 'c.py'] if script == 'slurm_train.sh' else ['c.py', '2']
    out = run_script(
        script,
        *args,
        cwd=tmp_path,
        env=clean_env(MAX_RESTARTS=value, PYTHON='false'),
    )
    assert out.returncode == 2
    assert out.stderr.startswith(f'error: MAX_RESTARTS={value}: expected')
    assert len(out.stderr.splitlines()) == 1


# --------------------------------------------------------------------------
# tools/slurm_*.sh -> tools/launch.sh: srun and scontrol are fakes that
# record their arguments
# --------------------------------------------------------------------------
@pytest.fixture
def fake_slurm(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    # srun: FAKE_SRUN_STATUS holds one status per call (the last repeats);
    # each call appends its TSM_RESTART_COUNT to srun.calls; FAKE_FINAL: a
    # task's status in TSM_FINAL_STATUS_FILE.
    srun_status = (
        f'echo "${{TSM_RESTART_COUNT:-0}}" >> {tmp_path}/srun.calls\n'
        'if [ -n "${FAKE_FINAL:-}" ]; then\n'
        '    echo "$FAKE_FINAL" > "$TSM_FINAL_STATUS_FILE"\n'
        'fi\n'
        'statuses=(${FAKE_SRUN_STATUS:-0})\n'
        f'n=$(wc -l < {tmp_path}/srun.calls)\n'
        'exit "${statuses[n - 1]:-${statuses[-1]}}"'
    )
    for tool, status in (('srun', srun_status), ('scontrol', 'exit 0')):
        exe = bin_dir / tool
        exe.write_text(
            f'#!/usr/bin/env bash\n'
            f'printf "%s\\n" "$@" > {tmp_path / tool}.args\n'
            f'{status}\n'
        )
        exe.chmod(0o755)

    def run(script, *args, **env):
        env = clean_env(
            PATH=f'{bin_dir}:{os.environ["PATH"]}', PYTHON='python', **env
        )
        out = run_script(script, *args, cwd=tmp_path, env=env)
        calls = {
            t: (tmp_path / f'{t}.args').read_text().splitlines()
            for t in ('srun', 'scontrol')
            if (tmp_path / f'{t}.args').exists()
        }
        if (tmp_path / 'srun.calls').exists():
            restarts = (tmp_path / 'srun.calls').read_text().split()
            calls['restart_counts'] = restarts
        return out, calls

    return run


def test_slurm_train_command_resumes(fake_slurm):
    out, calls = fake_slurm(
        'slurm_train.sh',
        'gpu',
        'tsm',
        'c.py',
        '--work-dir',
        'w',
        GPUS='16',
        CPUS_PER_TASK='6',
        SRUN_ARGS='--signal=USR1@120 --time=10',
    )
    assert out.returncode == 0, out.stderr
    assert calls['srun'] == [
        '-p',
        'gpu',
        '--job-name=tsm',
        '--gres=gpu:8',
        '--ntasks=16',
        '--ntasks-per-node=8',
        '--cpus-per-task=6',
        '--kill-on-bad-exit=1',
        '--signal=USR1@120',
        '--time=10',
        'python',
        '-u',
        str(TOOLS / 'train.py'),
        'c.py',
        '--work-dir',
        'w',
        '--resume',
        '--launcher',
        'slurm',
    ]
    assert 'scontrol' not in calls


def test_slurm_train_keeps_an_explicit_resume(fake_slurm):
    _, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        '--resume',
        'w/epoch_3.pth',
        GPUS='2',
    )
    assert calls['srun'][3:6] == [
        '--gres=gpu:2',
        '--ntasks=2',
        '--ntasks-per-node=2',
    ]
    assert calls['srun'][-5:] == [
        'c.py',
        '--resume',
        'w/epoch_3.pth',
        '--launcher',
        'slurm',
    ]


def test_slurm_train_requeues_a_preempted_batch_job(fake_slurm):
    out, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        FAKE_SRUN_STATUS='3',
        SLURM_JOB_ID='4242',
    )
    assert calls['scontrol'] == ['requeue', '4242']
    assert out.returncode == 0
    assert 'requeued' in out.stderr


def test_slurm_train_preempted_outside_a_batch_job(fake_slurm):
    out, calls = fake_slurm(
        'slurm_train.sh', 'p', 'j', 'c.py', FAKE_SRUN_STATUS='3'
    )
    assert 'scontrol' not in calls
    assert out.returncode == 3
    assert 'run the same command again' in out.stderr


def test_slurm_train_failure_is_not_requeued(fake_slurm):
    out, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        FAKE_SRUN_STATUS='1',
        SLURM_JOB_ID='4242',
    )
    assert 'scontrol' not in calls
    assert out.returncode == 1


def test_slurm_train_restarts_a_failed_step(fake_slurm):
    """MAX_RESTARTS: srun again, --resume kept, TSM_RESTART_COUNT set."""
    out, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        FAKE_SRUN_STATUS='137 1 0',
        MAX_RESTARTS='3',
    )
    assert out.returncode == 0, out.stderr
    assert calls['restart_counts'] == ['0', '1', '2']
    assert calls['srun'][-3:] == ['--resume', '--launcher', 'slurm']
    assert 'training failed (status 137): restart 1 of 3' in out.stderr


@pytest.mark.parametrize(
    'status, runs', [(1, 3), (2, 1), (3, 1)]
)  # a failure; bad input; preempted (requeued instead)
def test_slurm_train_restarts_only_failures(fake_slurm, status, runs):
    out, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        FAKE_SRUN_STATUS=str(status),
        MAX_RESTARTS='2',
    )
    assert out.returncode == status
    assert len(calls['restart_counts']) == runs


def test_slurm_train_does_not_restart_a_refused_write(fake_slurm):
    """Rank 0 stops with 4 (a full disk), srun reports another task's kill
    (137): the task's own status ends the job, without a restart."""
    out, calls = fake_slurm(
        'slurm_train.sh',
        'p',
        'j',
        'c.py',
        FAKE_SRUN_STATUS='137',
        FAKE_FINAL='4',
        MAX_RESTARTS='2',
    )
    assert out.returncode == 4
    assert calls['restart_counts'] == ['0']


def test_slurm_test_command(fake_slurm):
    out, calls = fake_slurm(
        'slurm_test.sh',
        'p',
        'j',
        'c.py',
        'e.pth',
        '--batch-size',
        '4',
        GPUS='4',
    )
    assert out.returncode == 0, out.stderr
    assert calls['srun'][-8:] == [
        '-u',
        str(TOOLS / 'test.py'),
        'c.py',
        'e.pth',
        '--batch-size',
        '4',
        '--launcher',
        'slurm',
    ]
    assert '--resume' not in calls['srun']
