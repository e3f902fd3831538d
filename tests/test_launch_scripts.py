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
# tools/slurm_*.sh -> tools/launch.sh: srun and scontrol are fakes that
# record their arguments
# --------------------------------------------------------------------------
@pytest.fixture
def fake_slurm(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for tool, status in (('srun', '${FAKE_SRUN_STATUS:-0}'), ('scontrol', 0)):
        exe = bin_dir / tool
        exe.write_text(
            f'#!/usr/bin/env bash\n'
            f'printf "%s\\n" "$@" > {tmp_path / tool}.args\n'
            f'exit {status}\n'
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
