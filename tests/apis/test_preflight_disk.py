"""Preflight's ``disk`` row: the work dir's free space against the
checkpoints the config keeps, each estimated from the built model and the
optimizer. The free space is simulated (``shutil.disk_usage``); the sizes
are checked against a real ``torch.save`` of the demo model's state."""

import argparse
import copy
import io
import os
import re
import shutil
from collections import namedtuple

import pytest
import torch

from tests.helpers import DEMO
from tsm_plugin.apis.preflight import CHECKS, Status, format_table, run_check
from tsm_plugin.apis.preflight.context import Context
from tsm_plugin.apis.preflight.disk import space_need

Usage = namedtuple('Usage', 'total used free')
MIB = 2**20


@pytest.fixture(scope='module')
def ctx(tmp_path_factory):
    """The demo config (TSM-R18, 8 classes, SGD momentum 0.9; 3 kept
    checkpoints + the best top-1), its work dir not created yet."""
    root = tmp_path_factory.mktemp('preflight_disk')
    args = argparse.Namespace(
        config=DEMO,
        cfg_options=None,
        data_root=None,
        work_dir=str(root / 'work'),
        device='cpu',
    )
    return Context.from_args(args)


@pytest.fixture(scope='module')
def real_sizes(ctx):
    """Bytes of the demo's checkpoint with and without SGD's momentum."""
    state = {k: v.clone() for k, v in ctx.model.state_dict().items()}
    momentum = {
        i: {'momentum_buffer': torch.zeros_like(p)}
        for i, p in enumerate(ctx.model.parameters())
    }
    sizes = []
    for ckpt in (
        dict(state_dict=state, optimizer=dict(state=momentum)),
        dict(state_dict=state),
    ):
        with io.BytesIO() as f:
            torch.save(ckpt, f)
            sizes.append(f.tell())
    return sizes


def _free(monkeypatch, ctx, free):
    real = shutil.disk_usage
    root = str(ctx.work_dir).rsplit('/', 1)[0]

    def usage(path):
        if str(path).startswith(root):
            return Usage(10 * free, 9 * free, free)
        return real(path)

    monkeypatch.setattr(shutil, 'disk_usage', usage)


def _disk_row(ctx):
    check = next(c for c in CHECKS if c.name == 'disk')
    (row,) = run_check(check.name, check.fn, ctx)
    assert row.check == 'disk' and row.status in (Status.PASS, Status.FAIL)
    return row


def test_disk_row_fails_when_the_checkpoints_do_not_fit(
    ctx, real_sizes, monkeypatch
):
    full, weights = real_sizes
    # 3 kept + the one being written; a new best written before the old
    # one is removed (weights only).
    peak = 4 * full + 2 * weights
    _free(monkeypatch, ctx, peak - MIB)
    row = _disk_row(ctx)
    assert row.status is Status.FAIL, row
    parent = ctx.work_dir.rsplit('/', 1)[0]  # the work dir is not made yet
    found = re.fullmatch(
        rf'{parent}: ([\d.]+) MiB free; the checkpoints need ([\d.]+) MiB = '
        r'4 checkpoints of ([\d.]+) MiB \+ 2 best of ([\d.]+) MiB '
        r'\(weights only\)',
        row.detail,
    )
    assert found, row.detail
    free, need, one, best = (float(g) for g in found.groups())
    assert free == round((peak - MIB) / MIB, 1)
    # The estimates: at least the real sizes, within 1 %.
    assert full / MIB - 0.05 <= one <= full / MIB * 1.01, (full, one)
    assert weights / MIB - 0.05 <= best <= weights / MIB * 1.01
    assert need == pytest.approx(4 * one + 2 * best, abs=0.2)
    assert 'disk' in format_table([row]) and 'FAILED' in format_table([row])


def test_disk_row_passes_when_they_fit_and_counts_kept_checkpoints(
    ctx, real_sizes, monkeypatch
):
    full, weights = real_sizes
    peak = 4 * full + 2 * weights
    _free(monkeypatch, ctx, int(peak * 1.02))
    row = _disk_row(ctx)
    assert row.status is Status.PASS, row
    assert row.detail.startswith(f'{ctx.work_dir.rsplit("/", 1)[0]}: ')
    # Checkpoints already in the work dir are rotated by the saves: they
    # count as space the run holds (a sparse file: no real disk used).
    work = ctx.work_dir
    os.makedirs(work, exist_ok=True)
    with open(f'{work}/epoch_1.pth', 'wb') as f:
        f.truncate(2 * full)
    _free(monkeypatch, ctx, peak - full)
    row = _disk_row(ctx)
    assert row.status is Status.PASS, row
    assert row.detail.startswith(f'{work}: ')
    assert f'+ {2 * full / MIB:.1f} MiB of checkpoints in it' in row.detail


def test_disk_count_follows_the_checkpoint_hook(ctx):
    """Unlimited ``max_keep_ckpts``: every save of the 10 epochs; mmengine's
    CheckpointHook keeps a preemption save besides them; no optimizer
    state: weights-sized files."""
    cfg = ctx.cfg
    saved = copy.deepcopy(cfg.default_hooks)
    try:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=1, max_keep_ckpts=-1
        )
        need = space_need(ctx, ctx.model)
        assert cfg.train_cfg.max_epochs == 10
        assert (need.full_files, need.best_files) == (10 + 1 + 1, 0)
        cfg.default_hooks.checkpoint.update(
            type='AtomicCheckpointHook', save_optimizer=False, interval=3
        )
        need = space_need(ctx, ctx.model)  # epochs 3, 6, 9 and 10
        assert (need.full_files, need.best_files) == (4 + 1, 0)
        assert need.sizes.full == need.sizes.weights
    finally:
        cfg.default_hooks = saved
