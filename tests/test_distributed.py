"""Distributed training: the sync_bn check, and a real 2-process gloo run of
the demo config (train, resume, test). The launch scripts' command lines
are checked in tests/test_launch_scripts.py.

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
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import DEMO, REPO, SHORT_RUN, clean_env, run_script

no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path is taken only without CUDA'
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
    argv = [DEMO] + ([str(ckpt)] if tool == 'test' else [])
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
# Restarts: which attempt a process is, and where it resumes from
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    'env, expected',
    [
        ({}, None),
        ({'TSM_RESTART_COUNT': '0', 'TSM_MAX_RESTARTS': '2'}, None),
        ({'TSM_RESTART_COUNT': '1', 'TSM_MAX_RESTARTS': '2'}, (1, 2)),
        (
            {
                'TORCHELASTIC_RESTART_COUNT': '3',
                'TORCHELASTIC_MAX_RESTARTS': '5',
            },
            (3, 5),
        ),
    ],
)
def test_elastic_restart_reads_the_launchers_variables(env, expected):
    from tsm_plugin.engine.distributed import elastic_restart

    assert elastic_restart(env) == expected


def test_elastic_restart_refuses_a_bad_count_in_one_line():
    from tsm_plugin.engine.distributed import elastic_restart
    from tsm_plugin.errors import InputError

    with pytest.raises(InputError, match="^TSM_RESTART_COUNT='x': expected"):
        elastic_restart({'TSM_RESTART_COUNT': 'x'})


def _resume_cfg(tmp_path, monkeypatch, restart, *flags):
    from tsm_plugin.apis import train as api

    for name in ('TORCHELASTIC_RESTART_COUNT', 'TSM_RESTART_COUNT'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('TSM_RESTART_COUNT', str(restart))
    monkeypatch.setenv('TSM_MAX_RESTARTS', '3')
    work = tmp_path / 'work'
    args = api.build_parser().parse_args(
        [DEMO, '--work-dir', str(work), *flags]
    )
    return api.merge_args(api.load_config(DEMO), args), work


def test_a_restart_resumes_from_the_last_checkpoint(tmp_path, monkeypatch):
    """Whatever --resume named: the work dir's last checkpoint is newer."""
    from tsm_plugin.engine.checkpoint import (
        save_checkpoint_file,
        write_pointer,
    )
    from tsm_plugin.engine.distributed import Restart, restart_line

    given = tmp_path / 'given.pth'
    given.touch()
    work = tmp_path / 'work'
    work.mkdir()
    last = work / 'iter_5.pth'
    save_checkpoint_file({'state_dict': {}}, str(last))
    write_pointer(str(work), str(last))
    cfg, _ = _resume_cfg(tmp_path, monkeypatch, 1, '--resume', str(given))
    assert (cfg.resume, cfg.load_from) == (True, str(last))
    assert restart_line(Restart(1, 3), cfg) == (
        f'restart 1 of 3: resuming from {last}'
    )
    # The first attempt takes --resume CHECKPOINT as given.
    cfg, _ = _resume_cfg(tmp_path, monkeypatch, 0, '--resume', str(given))
    assert (cfg.resume, cfg.load_from) == (True, str(given))


@pytest.mark.parametrize('flags', [[], ['--resume']])
def test_a_restart_without_checkpoint_starts_over(
    tmp_path, monkeypatch, flags
):
    from tsm_plugin.engine.distributed import Restart, restart_line

    cfg, work = _resume_cfg(tmp_path, monkeypatch, 2, *flags)
    assert not cfg.resume and cfg.load_from is None
    assert restart_line(Restart(2, 3), cfg) == (
        f'restart 2 of 3: no complete checkpoint in {work} yet, starting '
        'again from scratch'
    )


# --------------------------------------------------------------------------
# A real 2-process gloo run of the demo config
# --------------------------------------------------------------------------
NUM_TRAIN = 8  # 2 iterations per epoch at 2 processes x 2 clips
NUM_TEST = 5  # odd: the distributed sampler pads, the results must not


def weights_digest(state_dict: dict) -> str:
    from dist_probe import weights_digest as digest

    return digest(state_dict)


def tiny_demo_config(tmp_path, data_root, tfd=True) -> Path:
    """The demo config at 4 frames on a few clips, plus the probe hook;
    without the demo's TFD sweep after training if not ``tfd``."""
    from mmengine.config import Config

    from tsm_plugin.utils.config import set_data_root, set_num_frames

    cfg = Config.fromfile(DEMO)
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
    # The scalars to their JSON file only: no TensorBoard (nothing here
    # reads it; tests/apis/test_train_tensorboard.py does).
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if not tfd:
        cfg.default_hooks.pop('tfd')
    path = tmp_path / ('tiny_demo.py' if tfd else 'tiny_demo_no_tfd.py')
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
    # 25-60 s; make test's second pytest worker shares the two cores
    out = run_script(script, *args, cwd=cwd, env=env, timeout=240)
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


COMMON = [*SHORT_RUN, '--auto-scale-lr']


def _snapshot(work) -> dict:
    """What a training launch left: both ranks' probes, the checkpoints
    and logs in the work dir."""
    return dict(
        probes=probes(work),
        checkpoints=sorted(p.name for p in work.glob('*.pth')),
        logs={str(p): p.read_text() for p in work.glob('*/*.log')},
    )


@pytest.fixture(scope='module')
def two_process_run(synthetic_ssv2, tmp_path_factory):
    """dist_train.sh, then slurm_train.sh resuming, then dist_test.sh: the
    three launches, once for the module's tests, with what each left."""
    tmp_path = tmp_path_factory.mktemp('two_process')
    cfg = tiny_demo_config(tmp_path, synthetic_ssv2)
    work = tmp_path / 'work'
    common = ['--work-dir', str(work), *COMMON]

    # 1. Fresh: --resume with no checkpoint yet starts from scratch (the
    # TFD sweep after training is the resumed run's alone).
    launch(
        'dist_train.sh',
        str(tiny_demo_config(tmp_path, synthetic_ssv2, tfd=False)),
        '2',
        *common,
        '--resume',
        '--epochs',
        '1',
        cwd=tmp_path,
    )
    fresh = _snapshot(work)
    fresh['digest'] = ckpt_digest(work / 'epoch_1.pth')

    # 2. Resume in 2 processes, through tools/slurm_train.sh (--launcher
    # slurm), which adds --resume itself: both ranks continue from
    # epoch_1.pth.
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
    resumed = _snapshot(work)
    resumed['digest'] = ckpt_digest(work / 'epoch_2.pth')

    # 3. Test in 2 processes.
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
    return dict(
        cfg=cfg,
        work=work,
        root=tmp_path,
        fresh=fresh,
        resumed=resumed,
        results=results,
    )


@pytest.mark.slow
def test_dist_train_starts_both_ranks_alike(two_process_run):
    """dist_train.sh --resume with nothing to resume: a fresh start."""
    fresh = two_process_run['fresh']
    r0, r1 = fresh['probes']
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
    assert fresh['checkpoints'] == ['epoch_1.pth']
    assert fresh['digest'] == epoch1['digest']
    logs = list(fresh['logs'])
    assert len(logs) == 1 and 'rank' not in Path(logs[0]).name
    assert 'Epoch(train) [1][2/2]' in fresh['logs'][logs[0]]


@pytest.mark.slow
def test_slurm_train_resumes_both_ranks_from_the_checkpoint(two_process_run):
    epoch1 = check_epoch(*two_process_run['fresh']['probes'], '1')
    resumed = two_process_run['resumed']
    r0, r1 = resumed['probes']
    for r in (r0, r1):
        assert (r['start']['iter'], r['start']['epoch']) == (2, 1)
        assert r['start']['digest'] == epoch1['digest']
        assert sorted(r['epochs']) == ['2']
    epoch2 = check_epoch(r0, r1, '2')
    assert epoch2['order'] != epoch1['order']  # the sampler reseeds per epoch
    assert epoch2['digest'] != epoch1['digest']  # it trained
    assert resumed['checkpoints'] == ['epoch_1.pth', 'epoch_2.pth']
    assert resumed['digest'] == epoch2['digest']
    assert len(resumed['logs']) == 2  # one per run


@pytest.mark.slow
def test_dist_test_results_come_back_whole_and_in_order(two_process_run):
    """Unpadded and in dataset order."""
    from mmaction.registry import DATASETS
    from mmengine.config import Config

    results = two_process_run['results']
    assert len(results) == NUM_TEST
    dataset = DATASETS.build(
        dict(
            Config.fromfile(
                str(two_process_run['cfg'])
            ).test_dataloader.dataset,
            _scope_='mmaction',
        )
    )
    assert [int(r['gt_label']) for r in results] == [
        dataset.get_data_info(i)['label'] for i in range(NUM_TEST)
    ]


@pytest.mark.slow
def test_tfd_sweep_after_training_gathers_both_shards(two_process_run):
    """The demo's TFD sweep ran after training on both ranks, over their two
    shards; rank 0 wrote the report of the final weights, gathered whole.
    At the trained count it equals dist_test.sh on the saved checkpoint."""
    results = two_process_run['results']
    assert len(list(two_process_run['root'].rglob('tfd.json'))) == 1
    report = json.loads(
        (two_process_run['work'] / 'tfd_final' / 'tfd.json').read_text()
    )
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


@pytest.mark.slow
def test_dist_train_restarts_a_killed_rank_and_resumes(
    two_process_run, synthetic_ssv2, tmp_path
):
    """MAX_RESTARTS=1: rank 1 is SIGKILLed before the second of the
    epoch's two iterations, once iter_1.pth is saved; dist_train.sh starts
    both ranks again, they resume from iter_1.pth mid-epoch by themselves,
    each with its own BN statistics, and end with the weights (buffers
    included) of the fixture's uninterrupted 1-epoch run."""
    from mmengine.config import Config

    cfg = Config.fromfile(
        str(tiny_demo_config(tmp_path, synthetic_ssv2, tfd=False))
    )
    # A checkpoint after every iteration: iter_1.pth to resume from.
    cfg.default_hooks.checkpoint.by_epoch = False
    cfg.custom_hooks.append(dict(type='KillRankHook', rank=1, iteration=1))
    path = tmp_path / 'tiny_demo_restart.py'
    cfg.dump(str(path))
    work = tmp_path / 'work'
    out = launch(
        'dist_train.sh',
        str(path),
        '2',
        '--work-dir',
        str(work),
        *COMMON,
        '--epochs',
        '1',
        cwd=tmp_path,
        MAX_RESTARTS='1',
    )
    finished = time.time()
    killed = float((work / 'probe' / 'killed_at').read_text())
    # kill -> restart -> finish, for docs/distributed.md
    print(f'kill to finish: {finished - killed:.1f} s')
    assert 'torchrun failed (status 1): restart 1 of 1' in out.stderr

    # Two attempts, one log each; the second says where it resumed from.
    logs = [p.read_text() for p in sorted(work.glob('*/*.log'))]
    assert len(logs) == 2
    assert 'Epoch(train) [1][1/2]' in logs[0]
    assert 'Epoch(train) [1][2/2]' not in logs[0]
    ckpt1 = work / 'iter_1.pth'
    assert f'restart 1 of 1: resuming from {ckpt1}' in logs[1]
    assert 'Resuming epoch 1 at batch 2/2' in logs[1]
    # Both restarted ranks started at iteration 1 from iter_1.pth's
    # parameters and their own BN statistics (mid-epoch, the ranks' differ),
    # and ended the epoch with the uninterrupted run's weights.
    r0, r1 = probes(work)
    ckpt = torch.load(ckpt1, map_location='cpu')
    by_rank = ckpt['meta']['rank_buffers']
    assert weights_digest(by_rank[0]) != weights_digest(by_rank[1])
    for rank, r in enumerate((r0, r1)):
        assert (r['start']['iter'], r['start']['epoch']) == (1, 0)
        state = dict(ckpt['state_dict'], **by_rank[rank])
        assert r['start']['digest'] == weights_digest(state)
    reference = two_process_run['fresh']['probes'][0]['epochs']['1']
    assert weights_digest(ckpt['state_dict']) != reference['digest']
    assert r0['epochs']['1']['digest'] == r1['epochs']['1']['digest']
    assert r0['epochs']['1']['digest'] == reference['digest']
