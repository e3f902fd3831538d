"""The per-clip decode deadline: a decoder that never returns.

A reader that sleeps on one video (20 s: forever, to a deadline of a
second) stands in for native code stuck holding the GIL (decord issue
#373): the training process's watchdog, not the stuck worker, must end it.
The patch is made before the workers fork, so they inherit it.
"""

import json
import multiprocessing as mp
import shutil
import time
from types import SimpleNamespace

import pytest
import torch

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _tiny
from tests.helpers import decode_steps, stop_workers, torch_threads
from tsm_plugin.datasets import bad_videos, transforms
from tsm_plugin.datasets.bad_videos import DecodeDeadlineError
from tsm_plugin.datasets.ssv2 import SSv2Dataset
from tsm_plugin.engine.decode_watchdog import guard_loader
from tsm_plugin.errors import InputError

VIDEOS = '20bn-something-something-v2'
HUNG = 2  # position in train.json of the video whose decode never returns


@pytest.fixture
def hang(monkeypatch):
    """``hang(path)``: opening ``path`` sleeps 20 s, "forever" to a
    deadline of a second (and an unguarded test fails, not hangs)."""
    real = transforms.open_video

    def install(path):
        def open_or_hang(filename, *args, **kwargs):
            if filename == str(path):
                time.sleep(20)
            return real(filename, *args, **kwargs)

        monkeypatch.setattr(transforms, 'open_video', open_or_hang)

    return install


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(
        bad_videos, 'print_log', lambda msg, **kw: lines.append(msg)
    )
    return lines


def _video(root, position):
    items = json.loads((root / 'labels' / 'train.json').read_text())
    return root / VIDEOS / f'{items[position]["id"]}.webm'


def _dataset(root, **kwargs):
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    return SSv2Dataset(
        ann_file='labels/train.json',
        label_file='labels/labels.json',
        data_root=str(root),
        data_prefix=dict(video=VIDEOS),
        pipeline=decode_steps(4, test_mode=True),
        **kwargs,
    )


def _train(root, work, workers, monkeypatch, **dataset):
    from mmengine.runner import Runner

    cfg = _tiny.reliability_cfg(
        root, work, epochs=1, workers=workers, indices=4, **dataset
    )
    if workers:  # the patched reader must reach the workers
        cfg.train_dataloader.multiprocessing_context = 'fork'
    cfg.default_hooks.checkpoint = None  # weights are compared in memory
    runner = Runner.from_cfg(cfg)
    warnings = []
    monkeypatch.setattr(runner.logger, 'warning', warnings.append)
    try:
        runner.train()
    finally:
        stop_workers(runner)
    weights = {k: v.clone() for k, v in runner.model.state_dict().items()}
    return runner, weights, [w for w in warnings if 'replaced' in w]


@pytest.mark.slow  # two Runner trainings, one with 2 workers
def test_a_hung_decode_in_training_is_skipped_as_an_unreadable_video(
    synthetic_ssv2, tmp_path, monkeypatch, hang, logged
):
    children = set(mp.active_children())
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    video = _video(root, HUNG)
    good = video.read_bytes()
    with torch_threads(1):
        # The reference: the same video unreadable, no workers.
        video.write_bytes(b'')
        _, unreadable, replaced = _train(root, tmp_path / 'a', 0, monkeypatch)
        assert len(logged) == 1 and 'empty file' in logged[0]
        video.write_bytes(good)
        hang(video)
        start = time.monotonic()
        runner, hung, replaced_hung = _train(
            root, tmp_path / 'b', 2, monkeypatch, decode_deadline=1.0
        )
        took = time.monotonic() - start
    assert runner.iter == 2 and took < 60, took  # the epoch ended
    assert logged[1:] == [
        "skipping a video that cannot be used (on_bad_video='skip'): "
        f'cannot read video {video}: decoding took more than 1 s '
        '(decode_deadline=1)'
    ]  # named once
    assert (
        replaced_hung
        == replaced
        == [
            'train epoch 1: 1 samples replaced because their video cannot be '
            'used (1 distinct bad files so far, each logged once above; '
            'tools/preflight.py lists them all)'
        ]
    )
    assert set(mp.active_children()) <= children  # none outlives the run
    for name, value in unreadable.items():  # the same epoch, bit for bit
        assert torch.equal(value, hung[name]), name


def test_validation_stops_with_one_line_naming_the_video_and_deadline(
    synthetic_ssv2, hang
):
    from mmengine.dataset import pseudo_collate

    from tsm_plugin.engine.hooks import SkippedVideosHook

    children = set(mp.active_children())
    hang(_video(synthetic_ssv2, HUNG))
    ds = _dataset(synthetic_ssv2, test_mode=True, decode_deadline=0.5)
    assert ds.on_bad_video == 'raise'
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=2,
        num_workers=1,
        collate_fn=pseudo_collate,
        multiprocessing_context='fork',
    )
    runner = SimpleNamespace(val_loop=SimpleNamespace(dataloader=loader))
    SkippedVideosHook().before_val_epoch(runner)  # what guards it in a run
    assert guard_loader(loader)  # guarded, and guarding again is harmless
    batches = iter(loader)
    assert next(batches)['video_id']  # batch 1 (samples 0, 1) is fine
    with pytest.raises(DecodeDeadlineError) as err:
        next(batches)
    assert str(err.value) == (
        f'cannot read video {_video(synthetic_ssv2, HUNG)}: decoding took '
        'more than 0.5 s (decode_deadline=0.5)'
    )
    assert set(mp.active_children()) <= children  # the stuck one too


def test_without_workers_an_alarm_cuts_a_decode_that_returns_to_python(
    synthetic_ssv2, hang, logged
):
    video = _video(synthetic_ssv2, HUNG)
    hang(video)
    ds = _dataset(synthetic_ssv2, decode_deadline=0.2)
    assert ds[HUNG]['filename'] == str(_video(synthetic_ssv2, HUNG + 1))
    assert ds[HUNG]['filename'] == str(_video(synthetic_ssv2, HUNG + 1))
    assert len(logged) == 1 and 'decode_deadline=0.2' in logged[0]
    assert ds.bad_indices() == [HUNG] and ds.pop_skip_count() == 2
    strict = _dataset(synthetic_ssv2, decode_deadline=0.2, test_mode=True)
    with pytest.raises(DecodeDeadlineError, match='took more than 0.2 s'):
        strict[HUNG]


@pytest.mark.parametrize('value', [0, -1.0, 'soon', True])
def test_a_bad_deadline_is_one_line(synthetic_ssv2, value):
    with pytest.raises(InputError, match='decode_deadline must be a num'):
        _dataset(synthetic_ssv2, decode_deadline=value)


def test_no_deadline_no_guard(synthetic_ssv2):
    ds = _dataset(synthetic_ssv2, decode_deadline=None)
    loader = torch.utils.data.DataLoader(ds, num_workers=1)
    assert not guard_loader(loader)
    assert _dataset(synthetic_ssv2).decode_deadline == 60.0  # the default
