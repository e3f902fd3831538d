"""Distributed training: the launch scripts, the sync_bn check, and a real
2-process gloo run of the demo config (train, resume, test).

The 2-process run goes through ``tools/dist_train.sh``,
``tools/slurm_train.sh`` (with a local stand-in for srun) and
``tools/dist_test.sh`` exactly as a user types them. ``tests/dist_probe.py``
(a hook loaded through ``custom_imports``) has every rank write what it saw,
so the test can compare the ranks with each other and with the checkpoints
rank 0 wrote.
"""

import json
import os
import pickle
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / 'tools'
DEMO = REPO / 'configs' / 'tsm_demo_synthetic.py'
# What a shell may have exported that would change the scripts' defaults.
LAUNCH_ENV = (
    'MASTER_PORT',
    'PORT',
    'MASTER_ADDR',
    'NNODES',
    'NODE_RANK',
    'GPUS',
    'GPUS_PER_NODE',
    'CPUS_PER_TASK',
    'SRUN_ARGS',
    'SLURM_JOB_ID',
    'PYTHON',
)

no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path is taken only without CUDA'
)


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_ENV}
    env.update(extra)
    return env


def bash(script, *args, cwd, env, timeout=30):
    """Run ``tools/<script>`` with bash; the completed process."""
    return subprocess.run(
        ['bash', str(TOOLS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@no_cuda
@pytest.mark.parametrize('tool', ['train', 'test'])
@pytest.mark.parametrize('launcher', ['pytorch', 'slurm', 'none'])
def test_sync_bn_without_cuda_is_one_line(tmp_path, tool, launcher):
    """DDP refuses SyncBN on CPU deep in the Runner; the CLIs say it first.
    One process ignores sync_bn (mmengine reverts it), so it passes."""
    import importlib

    from tsm_plugin.errors import InputError

    api = importlib.import_module(f'tsm_plugin.apis.{tool}')
    ckpt = tmp_path / 'e.pth'
    ckpt.touch()
    argv = [str(DEMO)] + ([str(ckpt)] if tool == 'test' else [])
    args = api.build_parser().parse_args(
        argv + ['--launcher', launcher, '--cfg-options', 'sync_bn=torch']
    )
    cfg = api.load_config(args.config, args.cfg_options)
    if launcher == 'none':
        assert api.merge_args(cfg, args).sync_bn == 'torch'
    else:
        with pytest.raises(InputError, match="^sync_bn='torch' needs CUDA"):
            api.merge_args(cfg, args)


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
    out = bash(
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
    out = bash(script, *['x'] * nargs, cwd=tmp_path, env=clean_env())
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
        out = bash(script, *args, cwd=tmp_path, env=env)
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


# --------------------------------------------------------------------------
# A real 2-process gloo run of the demo config
# --------------------------------------------------------------------------
NUM_TRAIN = 8  # 2 iterations per epoch at 2 processes x 2 clips
NUM_TEST = 5  # odd: the distributed sampler pads, the results must not


def weights_digest(state_dict: dict) -> str:
    from dist_probe import weights_digest as digest

    return digest(state_dict)


def tiny_demo_config(tmp_path, data_root) -> Path:
    """The demo config at 4 frames on a few clips, plus the probe hook."""
    from mmengine.config import Config

    from tsm_plugin.utils.config import set_data_root, set_num_frames

    cfg = Config.fromfile(str(DEMO))
    set_data_root(cfg, str(data_root))
    set_num_frames(cfg, 4)
    cfg.train_dataloader.dataset.indices = NUM_TRAIN
    cfg.test_dataloader.dataset.indices = NUM_TEST
    cfg.custom_imports.imports.append('dist_probe')
    # The demo's hooks, its after-training TFD sweep included, plus the probe.
    cfg.custom_hooks = [
        *cfg.get('custom_hooks', []),
        dict(type='RankProbeHook'),
    ]
    cfg.default_hooks.logger.interval = 1
    path = tmp_path / 'tiny_demo.py'
    cfg.dump(str(path))
    return path


LOCAL_SRUN = """#!/usr/bin/env bash
# srun on this machine: --ntasks copies of the command with SLURM's task
# variables; exits with the highest status, as srun does.
ntasks=1
while [ $# -gt 0 ]; do
    case $1 in
        --ntasks=*) ntasks=${1#--ntasks=} ;;
        -p) shift ;;
        -*) ;;
        *) break ;;
    esac
    shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks \\
        SLURM_NODELIST=localhost "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid"; s=$?; [ $s -gt $status ] && status=$s
done
exit $status
"""


def launch(script, *args, cwd, **env):
    # dist_probe lives in tests/; the training processes import it.
    env = clean_env(
        PYTHON=sys.executable, PYTHONPATH=f'{REPO / "tests"}:{REPO}', **env
    )
    out = bash(script, *args, cwd=cwd, env=env, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def slurm_env(tmp_path) -> dict:
    """Run tools/slurm_*.sh here: a local srun, 2 tasks on CPU."""
    bin_dir = tmp_path / 'slurm_bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(LOCAL_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return dict(
        PATH=f'{bin_dir}:{os.environ["PATH"]}',
        GPUS='2',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        OMP_NUM_THREADS='1',
    )  # torchrun's default; srun sets none


def probes(work_dir):
    return [
        json.loads((work_dir / 'probe' / f'rank{r}.json').read_text())
        for r in (0, 1)
    ]


def check_epoch(r0, r1, epoch) -> dict:
    """The ranks split the epoch's clips and end it with equal weights."""
    e0, e1 = r0['epochs'][epoch], r1['epochs'][epoch]
    assert sorted(e0['indices'] + e1['indices']) == list(range(NUM_TRAIN))
    assert e0['digest'] == e1['digest']
    return dict(order=e0['indices'] + e1['indices'], digest=e0['digest'])


def ckpt_digest(path):
    return weights_digest(torch.load(path, map_location='cpu')['state_dict'])


def test_two_process_train_resume_test(synthetic_ssv2, tmp_path):
    """dist_train.sh, then slurm_train.sh resuming, then dist_test.sh."""
    cfg = tiny_demo_config(tmp_path, synthetic_ssv2)
    work = tmp_path / 'work'
    common = [
        '--work-dir',
        str(work),
        '--batch-size',
        '2',
        '--num-workers',
        '0',
        '--seed',
        '0',
        '--no-validate',
        '--auto-scale-lr',
        '--resume',
    ]

    # 1. Fresh: --resume with no checkpoint yet starts from scratch.
    launch(
        'dist_train.sh', str(cfg), '2', *common, '--epochs', '1', cwd=tmp_path
    )
    r0, r1 = probes(work)
    assert (r0['world_size'], r0['rank'], r1['rank']) == (2, 0, 1)
    # the config says nccl; without CUDA the processes talk over gloo
    assert r0['backend'] == ('nccl' if torch.cuda.is_available() else 'gloo')
    assert r0['start']['iter'] == 0
    assert r0['start']['digest'] == r1['start']['digest']  # same init
    # --auto-scale-lr: lr 0.01 is for a total batch of 32; here 2 x 2.
    assert r0['initial_lr'][0] == pytest.approx(0.01 * (2 * 2) / 32)
    assert r0['initial_lr'] == r1['initial_lr']
    epoch1 = check_epoch(r0, r1, '1')
    # rank 0 alone wrote the checkpoint (one file) and the log
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']
    assert ckpt_digest(work / 'epoch_1.pth') == epoch1['digest']
    logs = list(work.glob('*/*.log'))
    assert len(logs) == 1 and 'rank' not in logs[0].name
    assert 'Epoch(train) [1][2/2]' in logs[0].read_text()

    # 2. Resume in 2 processes, through tools/slurm_train.sh (--launcher
    # slurm), which adds --resume itself: both ranks continue from
    # epoch_1.pth.
    common.remove('--resume')
    launch(
        'slurm_train.sh',
        'cpu',
        'tsm',
        str(cfg),
        *common,
        '--epochs',
        '2',
        cwd=tmp_path,
        **slurm_env(tmp_path),
    )
    r0, r1 = probes(work)
    for r in (r0, r1):
        assert (r['start']['iter'], r['start']['epoch']) == (2, 1)
        assert r['start']['digest'] == epoch1['digest']
        assert sorted(r['epochs']) == ['2']
    epoch2 = check_epoch(r0, r1, '2')
    assert epoch2['order'] != epoch1['order']  # the sampler reseeds per epoch
    assert epoch2['digest'] != epoch1['digest']  # it trained
    assert sorted(p.name for p in work.glob('*.pth')) == [
        'epoch_1.pth',
        'epoch_2.pth',
    ]
    assert ckpt_digest(work / 'epoch_2.pth') == epoch2['digest']
    assert len(list(work.glob('*/*.log'))) == 2  # one per run

    # 3. Test in 2 processes: the results come back whole, unpadded and in
    # dataset order.
    test_dir = tmp_path / 'test'
    preds = test_dir / 'preds.pkl'
    launch(
        'dist_test.sh',
        str(cfg),
        str(work / 'epoch_2.pth'),
        '2',
        '--work-dir',
        str(test_dir),
        '--batch-size',
        '2',
        '--num-workers',
        '0',
        '--dump',
        str(preds),
        cwd=tmp_path,
    )
    with open(preds, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == NUM_TEST
    from mmaction.registry import DATASETS
    from mmengine.config import Config

    dataset = DATASETS.build(
        dict(
            Config.fromfile(str(cfg)).test_dataloader.dataset,
            _scope_='mmaction',
        )
    )
    assert [int(r['gt_label']) for r in results] == [
        dataset.get_data_info(i)['label'] for i in range(NUM_TEST)
    ]

    # The demo's TFD sweep ran after training on both ranks, over their two
    # shards; rank 0 wrote the report of the final weights, gathered whole.
    # At the trained count it equals dist_test.sh on the saved checkpoint.
    assert len(list(tmp_path.rglob('tfd.json'))) == 1
    report = json.loads((work / 'tfd_final' / 'tfd.json').read_text())
    assert report['epoch'] == 2
    rows = {r['frames']: r for r in report['results']}
    assert sorted(rows) == [4, 8, 12, 16]
    assert {r['num_videos'] for r in rows.values()} == {NUM_TEST}
    scores = torch.stack([torch.as_tensor(r['pred_score']) for r in results])
    labels = torch.tensor([int(r['gt_label']) for r in results])
    top5 = scores.topk(5, dim=1).indices
    assert rows[4]['top1'] == pytest.approx(
        (top5[:, 0] == labels).float().mean().item()
    )
    assert rows[4]['top5'] == pytest.approx(
        (top5 == labels[:, None]).any(1).float().mean().item()
    )
