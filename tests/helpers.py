"""Helpers shared by the tests of every folder.

Import them as ``from tests.helpers import ...``: pytest puts the repository
root on ``sys.path`` (``pythonpath`` in pyproject.toml), where ``tests`` is
a namespace package. This module imports only the standard library, pytest
and torch at its top (``tests/compat`` imports it where the stack must be
seen unpatched); mmengine is imported where a helper needs it.
"""

import copy
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')
RECIPE = str(REPO / 'configs' / 'tsm_r50_16f_ssv2.py')
TOOLS = REPO / 'tools'
#: tools/train.py's flags of a short seeded run: 2 clips a batch, no
#: dataloader workers, no validation.
SHORT_RUN = '--batch-size 2 --num-workers 0 --seed 0 --no-validate'.split()
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
    'MAX_RESTARTS',
    'TSM_RESTART_COUNT',
    'TSM_MAX_RESTARTS',
    'TORCHELASTIC_RESTART_COUNT',
    'TSM_FINAL_STATUS_FILE',
)


def clean_env(**extra) -> dict:
    """This process's environment without LAUNCH_ENV, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_ENV}
    env.update(extra)
    return env


def run_script(script, *args, cwd, env, timeout=30):
    """Run ``tools/<script>`` with bash; the completed process."""
    return subprocess.run(
        ['bash', str(TOOLS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def tiny_cfg(
    data_root,
    work_dir,
    frames: int = 8,
    epochs: int = 1,
    batch_size: int = 2,
    workers: int = 0,
    crop: int = 32,
    **dataset,
):
    """The demo config, CPU-test sized: every pipeline at ``crop`` px,
    ``frames`` frames, batch ``batch_size``, ``workers`` dataloader workers,
    ``epochs`` epochs (the LR schedule stretched to them), no validation,
    logged every iteration, seed 0. ``dataset``: keys for the training
    dataset (``indices=4``: its first 4 videos).

    The one tiny config of the tests: ``tests/tfd_fixtures.py`` turns the
    TFD sweep on, ``tests/engine/_tiny.py`` the reliability parts.
    """
    from tsm_plugin.utils.config import (
        iter_datasets,
        load_config,
        set_data_root,
        set_epochs,
        set_loader_option,
        set_num_frames,
    )

    cfg = load_config(DEMO)
    set_data_root(cfg, str(data_root))
    set_loader_option(cfg, 'batch_size', batch_size)
    set_loader_option(cfg, 'num_workers', workers)
    set_num_frames(cfg, frames)
    set_epochs(cfg, epochs)
    for ds in iter_datasets(cfg):
        for t in ds.pipeline:
            if t.type == 'Resize':
                t.scale = (
                    (crop, crop)
                    if not t.get('keep_ratio', True)
                    else (-1, crop + 4)
                )
            elif t.type == 'CenterCrop':
                t.crop_size = crop
            elif t.type == 'MultiScaleCrop':
                t.input_size = crop
    cfg.train_dataloader.dataset.update(dataset)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.pop('save_best', None)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


def frame_settings(cfg):
    """(backbone num_segments, head num_segments, every sampler's
    num_clips): the places a config holds its frame count."""
    from tsm_plugin.utils.config import iter_datasets

    samplers = [
        t.num_clips
        for ds in iter_datasets(cfg)
        for t in ds.pipeline
        if 'num_clips' in t
    ]
    return (
        cfg.model.backbone.num_segments,
        cfg.model.cls_head.num_segments,
        samplers,
    )


def decode_steps(
    num_clips: int = 4, test_mode: bool = False, backend: str = 'auto'
) -> list:
    """Our video steps: open, TSN-sample ``num_clips`` frames, decode."""
    return [
        dict(type='VideoInit', backend=backend),
        dict(
            type='SegmentSampleFrames',
            num_clips=num_clips,
            test_mode=test_mode,
        ),
        dict(type='VideoDecode'),
    ]


def record_decodes(sample) -> list:
    """Make a ``MultiFrameTestSample``'s decoder record the frame indices
    it is asked for; returns the list they land in (an array a decoding).
    """
    import numpy as np

    requested = []
    decode = sample.decode[-1]

    def counting_decode(results):
        requested.append(np.asarray(results['frame_inds']).copy())
        return decode(results)

    sample.decode[-1] = counting_decode
    return requested


def tsm_train_crops(size: int, short_side: int) -> list:
    """mmaction2's TSM training crops (short side, multi-scale crop with
    TSM's scales and 13 fixed positions, square resize), at ``size``."""
    return [
        dict(type='Resize', scale=(-1, short_side)),
        dict(
            type='MultiScaleCrop',
            input_size=size,
            scales=(1, 0.875, 0.75, 0.66),
            random_crop=False,
            max_wh_scale_gap=1,
            num_fixed_crops=13,
        ),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
    ]


def tsm_recognizer(
    depth: int = 18, frames: int = 8, num_classes: int = 5, **head
) -> dict:
    """The config of our TSM: a ``Recognizer2D`` of a TSMResNet-``depth``
    at ``frames`` frames and a TSMHead of ``num_classes`` classes
    (``head``: more of its keys)."""
    return dict(
        type='Recognizer2D',
        backbone=dict(type='TSMResNet', depth=depth, num_segments=frames),
        cls_head=dict(
            type='TSMHead',
            num_classes=num_classes,
            in_channels=512 if depth < 50 else 2048,
            num_segments=frames,
            **head,
        ),
    )


#: The last two steps of every recognition pipeline.
PACK = [
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]


@contextmanager
def torch_threads(threads: int = 1):
    """Run the block with ``threads`` torch threads, then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def format_each_config_once():
    """Make mmengine format each config text with yapf once a process.

    mmengine formats a config each time it logs, dumps or checkpoints it: 4
    times a Runner and once a checkpoint, ~0.3 s each, a third of a short
    training test. The same text formats the same way, so what lands in the
    logs, config dumps and checkpoints is unchanged. Returns the function
    that undoes it.
    """
    from mmengine.config import config as mmengine_config

    format_code = mmengine_config.FormatCode
    done = {}

    def format_once(text, style_config=None, **kwargs):
        key = (text, repr(style_config), repr(sorted(kwargs.items())))
        if key not in done:
            done[key] = format_code(text, style_config=style_config, **kwargs)
        return done[key]

    mmengine_config.FormatCode = format_once

    def undo():
        mmengine_config.FormatCode = format_code

    return undo


def one_thread_fixture(scope: str = 'function'):
    """An autouse fixture running each test (or module, ``scope``) with one
    torch thread: the same float reductions in every run, and on 2 shared
    cores faster than two (OpenMP's waiting threads make tiny convs many
    times slower). Use as ``one_thread = one_thread_fixture('module')``.
    """

    @pytest.fixture(scope=scope, autouse=True)
    def one_thread():
        with torch_threads(1):
            yield

    return one_thread


class _Capture:
    """Hook body: the state a (resumed) run starts training from."""

    priority = 'VERY_LOW'  # after the checkpoint was loaded

    def __init__(self):
        self.seen = {}

    @property
    def start(self):
        """``(epoch, iter)`` at ``before_train``."""
        return self.seen['epoch'], self.seen['iter']

    def before_train(self, runner):
        schedulers = runner.param_schedulers
        self.seen = dict(
            epoch=runner.epoch,
            iter=runner.iter,
            optimizer=copy.deepcopy(runner.optim_wrapper.state_dict()),
            schedulers=copy.deepcopy(
                [s.state_dict() for s in schedulers or []]
            ),
            weights={
                k: v.clone() for k, v in runner.model.state_dict().items()
            },
        )


def capture_hook():
    """A hook recording in ``.seen`` the epoch, iteration, optimizer and
    scheduler states and weights at ``before_train`` (``.start`` is
    ``(epoch, iter)``)."""
    from mmengine.hooks import Hook

    hook = type('CaptureHook', (_Capture, Hook), {})()
    _Capture.__init__(hook)
    return hook


class Payload:
    """Unpickling this creates a file: the side effect that must not happen."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return Path.touch, (Path(self.target),)


def stop_workers(runner):
    """Shut a runner's persistent dataloader workers down now (left to the
    garbage collector, torch waits ~5 s per worker, which would land on
    whichever later test happens to collect them), and give back the
    signal handlers of a run that stopped on an error."""
    from tsm_plugin.engine.hooks import release_signals, shutdown_workers

    release_signals(runner)
    for loop in (runner._train_loop, runner._val_loop, runner._test_loop):
        shutdown_workers(getattr(loop, 'dataloader', None))


def stop_orphan_workers():
    """Shut down the workers of every dataloader iterator still alive: a
    run that stopped on an error leaves its iterator in the traceback's
    reference cycle, and collected later (by whichever test collects it),
    torch waits 5 s for each of its workers."""
    import gc

    from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

    for obj in gc.get_objects():
        if issubclass(type(obj), _MultiProcessingDataLoaderIter):
            obj._shutdown_workers()


def random_bns(model, seed: int = 0):
    """Random BN affine parameters and statistics (so no BN is identity);
    returns ``model``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return model


def randomize(model, seed: int = 0):
    """Every float tensor random, BN statistics too (variances in
    [0.25, 0.75)), so no layer is an identity; returns ``model`` in eval
    mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(
                    torch.rand(t.shape, generator=g) * 0.5 + 0.25
                    if 'running_var' in name
                    else torch.randn(t.shape, generator=g) * 0.1
                )
    return model.eval()


def first_video(root, split: str = 'train') -> Path:
    """The ``.webm`` of the first item of a split of an SSv2-format set."""
    import json

    items = json.loads((Path(root) / 'labels' / f'{split}.json').read_text())
    return (
        Path(root) / '20bn-something-something-v2' / f'{items[0]["id"]}.webm'
    )


def ffn_train_pipeline(size: int, meta_keys=()) -> list:
    """FFN's training pipeline at ``size`` px: 16|8|4 frames (PyAV), one
    decode, one resize, packed."""
    pack = dict(type='PackActionInputs')
    if meta_keys:
        pack['meta_keys'] = tuple(meta_keys)
    return [
        dict(type='VideoInit', backend='pyav'),
        dict(type='MultiCountSampleFrames', frame_counts=(16, 8, 4)),
        dict(type='VideoDecode'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='FormatShape', input_format='NCHW'),
        pack,
    ]
