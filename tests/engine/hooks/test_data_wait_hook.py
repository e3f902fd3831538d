"""DataWaitHook on a real Runner: a dataset that sleeps in ``__getitem__``
makes training data-bound (one warning, naming workers and cores), a fast one
does not; the logged share and clips/s are IterTimerHook's times."""

import logging
import time
import uuid

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

import tsm_plugin.registration  # noqa: F401  (registers DataWaitHook)
from tsm_plugin.engine.hooks.data_wait_hook import DataWaitHook, batch_size

STEP_S = 0.05  # the model's "compute" per iteration


class _Set(Dataset):
    """12 items; the first ``slow_items`` sleep ``sleep`` s each."""

    metainfo = dict(classes=('a', 'b'))

    def __init__(self, sleep=0.0, slow_items=12):
        self.sleep, self.slow_items = sleep, slow_items

    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i < self.slow_items:
            time.sleep(self.sleep)
        return dict(inputs=torch.full((4,), float(i)), labels=i % 2)


class _Net(BaseModel):
    """A linear model whose step takes STEP_S (a GPU's compute time)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        time.sleep(STEP_S)
        logits = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=torch.nn.functional.cross_entropy(logits, labels))
        return logits


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def _train(tmp_path, dataset, **hook):
    """One epoch of 6 iterations (batch 2), logged every 2; returns the
    runner and its (level, message) log records."""
    from mmengine.runner import Runner

    runner = Runner(
        model=_Net(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=dataset,
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=False),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=2),
            checkpoint=None,
        ),
        custom_hooks=[dict(type='DataWaitHook', **hook)],
        default_scope='mmaction',
        experiment_name=f'data_wait_{uuid.uuid4().hex}',
    )
    lines = _Lines()
    runner.logger.addHandler(lines)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(lines)
    return runner, lines.lines


def _warnings(lines):
    return [m for level, m in lines if level == logging.WARNING]


@pytest.mark.slow
def test_slow_data_warns_once_naming_the_fix(tmp_path):
    runner, lines = _train(tmp_path, _Set(sleep=0.05))
    # data: 2 x 50 ms per iteration, compute 50 ms: ~2/3 waiting
    warned = _warnings(lines)
    assert len(warned) == 1, warned  # window 3 exceeds it too
    assert warned[0].startswith('Data-bound: ')
    for fix in (
        'train_dataloader.num_workers (now 0;',
        'cores',
        'tools/prepare_data.py SRC DST',
    ):
        assert fix in warned[0]
    hub = runner.message_hub
    share = hub.get_scalar('train/data_wait').current()
    assert share > 0.2
    # The logged values are IterTimerHook's, over the last window of 2.
    took = np.sum(hub.get_scalar('train/time').data[0][-2:])
    waited = np.sum(hub.get_scalar('train/data_time').data[0][-2:])
    assert share == pytest.approx(waited / took)
    clips_per_s = hub.get_scalar('train/clips_per_s').current()
    assert clips_per_s == pytest.approx(4 / took)
    # every log line carries both
    logged = [m for _, m in lines if 'Epoch(train)' in m]
    assert len(logged) == 3
    assert all('data_wait: ' in m and 'clips_per_s: ' in m for m in logged)


@pytest.mark.slow
def test_fast_data_stays_silent(tmp_path):
    runner, lines = _train(tmp_path, _Set())
    assert _warnings(lines) == []
    assert runner.message_hub.get_scalar('train/data_wait').current() < 0.2


@pytest.mark.slow
def test_a_slow_start_is_warm_up(tmp_path):
    # The first window (4 items) waits, as a loader starting up does.
    runner, lines = _train(tmp_path, _Set(sleep=0.05, slow_items=4))
    assert _warnings(lines) == []
    # judged from the first window on, it would have warned
    runner, lines = _train(
        tmp_path / 'b', _Set(sleep=0.05, slow_items=4), warmup=0
    )
    assert len(_warnings(lines)) == 1


def test_batch_size_of_list_tensor_and_other_batches():
    assert batch_size(dict(inputs=[torch.zeros(3)] * 5)) == 5
    assert batch_size(dict(inputs=torch.zeros(7, 3))) == 7
    assert batch_size(None) == 0
    hook = DataWaitHook()
    assert hook.threshold == 0.2 and hook.window is None
