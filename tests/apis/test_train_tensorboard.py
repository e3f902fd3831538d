"""TensorBoard: the demo config trained one epoch, resumed for a second, and
its event files read back: train loss, lr and accuracy per iteration, val
top-1/top-5 per epoch, the TFD sweep's scalars, curve and plot; the resumed
run's steps continue the first run's without a gap."""

from pathlib import Path

import pytest

from tests.helpers import DEMO, one_thread_fixture
from tsm_plugin.apis import train as train_api
from tsm_plugin.utils.config import load_config, set_num_frames

one_thread = one_thread_fixture('module')
pytestmark = pytest.mark.slow  # two Runner trainings (module fixture)

TRAIN_TAGS = ('loss', 'loss_cls', 'lr', 'top1_acc', 'top5_acc')
VAL_TAGS = ('acc/top1', 'acc/top5')


def _shrink(cfg):
    """The demo at 4 frames on 4 training videos (2 iterations of 2) and 2
    validation videos; every iteration logged; TFD at 2 and 4 frames."""
    set_num_frames(cfg, 4)
    cfg.train_dataloader.dataset.indices = 4
    cfg.val_dataloader.dataset.indices = 2
    cfg.test_dataloader.dataset.indices = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.tfd.frames = (2, 4)
    return cfg


def _runner(argv):
    from mmengine.runner import Runner

    args = train_api.build_parser().parse_args(argv)
    cfg = train_api.merge_args(
        load_config(args.config, args.cfg_options), args
    )
    return Runner.from_cfg(_shrink(cfg))


def _events(vis_data: Path):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    assert list(vis_data.glob('events.out.tfevents.*')), vis_data
    acc = EventAccumulator(str(vis_data), size_guidance={'scalars': 0})
    acc.Reload()
    return acc


def _steps(acc, tag):
    return [e.step for e in acc.Scalars(tag)]


@pytest.fixture(scope='module')
def two_runs(synthetic_ssv2, tmp_path_factory):
    """One epoch, then ``--resume`` for the second: the two runs' event
    files (oldest first) and the work dir."""
    work = tmp_path_factory.mktemp('tb_work')
    argv = [
        DEMO,
        '--data-root',
        str(synthetic_ssv2),
        '--work-dir',
        str(work),
        '--batch-size',
        '2',
        '--epochs',
        '2',
        '--seed',
        '0',
    ]
    first = _runner(argv)
    first.train_loop._max_epochs = 1  # as if the job had ended there
    # The TFD sweep after the resumed run only (CPU time).
    first._hooks = [
        h for h in first.hooks if type(h).__name__ != 'TFDEvalHook'
    ]
    first.train()
    _runner(argv + ['--resume']).train()
    runs = sorted(work.glob('*/vis_data'))
    assert len(runs) == 2, runs
    return [_events(r) for r in runs], work


def test_scalars_reach_tensorboard_and_continue_after_resume(two_runs):
    (first, resumed), _ = two_runs
    for tag in TRAIN_TAGS:  # per iteration: 2 per epoch
        assert _steps(first, tag) == [1, 2], tag
        assert _steps(resumed, tag) == [3, 4], tag
    for tag in VAL_TAGS:  # per epoch
        assert _steps(first, tag) == [1], tag
        assert _steps(resumed, tag) == [2], tag
    assert all(0 <= e.value <= 1 for e in resumed.Scalars('acc/top1'))


def test_tensorboard_holds_what_the_local_files_hold(two_runs):
    import json

    runs, work = two_runs
    files = sorted(work.glob('*/vis_data/scalars.json'))
    for acc, path in zip(runs, files):
        local = [json.loads(line) for line in path.read_text().splitlines()]
        for tag in TRAIN_TAGS + VAL_TAGS:
            want = [(d['step'], d[tag]) for d in local if tag in d]
            got = [(e.step, e.value) for e in acc.Scalars(tag)]
            assert [s for s, _ in got] == [s for s, _ in want], tag
            for (_, w), (_, g) in zip(want, got):
                assert g == pytest.approx(w, rel=1e-6)  # float32 events


def test_tfd_sweep_adds_its_curve_and_plot(two_runs):
    (_, resumed), _ = two_runs
    assert _steps(resumed, 'tfd/top1_2f') == [4]  # the last iteration
    assert _steps(resumed, 'tfd_curve/top1') == [2, 4]  # x: frame count
    assert _steps(resumed, 'tfd_curve/gflops') == [2, 4]
    assert {'tfd_plot', 'tfd_classes'} <= set(resumed.Tags()['images'])
    gflops = [e.value for e in resumed.Scalars('tfd_curve/gflops')]
    assert gflops[1] == pytest.approx(2 * gflops[0])
