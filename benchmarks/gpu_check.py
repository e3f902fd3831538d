"""``tools/gpu_check.sh``: this project's GPU figures in one command.

Made for a GPU machine lent for minutes: every figure the README's GPU
table needs, measured in one run within a time budget (8 min), written to
``OUT/gpu_check.json`` and ``OUT/gpu_check.md`` after every section, so a
run cut short still leaves what it measured. Sections, in order:

* ``environment``: versions, the device, its compute capability, whether
  bf16 is native, the precision the recipe picks there, the CPUs.
* ``step``: one training step of the recipe's TSM-R50
  (https://arxiv.org/abs/1811.08383) at 16 frames, 224 px, the recipe's
  batch: ours (its precision and memory format: bf16 + channels_last on a
  GPU with native bf16) against ours in fp32 NCHW, mmaction2's stock
  ``ResNetTSM``, and a plain ResNet-50 on as many images (the ceiling), by
  ``tools/benchmark.py model``.
* ``videos``: SSv2-sized synthetic videos (240p VP9, 12 fps, 2-6 s,
  textured), made here with all cores.
* ``train``: the recipe trained for 30 iterations by the Runner on those
  videos at 224 px, at its own loader settings: clips/s, the share of time
  spent waiting for data (mmengine's ``data_time`` over ``time`` per
  iteration), peak GPU memory.
* ``loader_webm``: clips/s of the recipe's training pipeline through a
  DataLoader with 4, 8 and 15 workers on the .webm files.
* ``fp16_step``: the step in fp16 with loss scaling (pre-Ampere GPUs' path).
* ``prepare`` and ``loader_prepared``: the videos converted by
  ``tools/prepare_ssv2.py`` to its default format, and the loader on it.
* ``ffn_step``: one FFN step (https://arxiv.org/abs/2303.14817) against
  one TSM step, by ``tools/benchmark.py ffn``.

Each section is guarded: a failure is recorded with its error and the rest
run; a tool that is missing is ``not available``; once the budget is spent
the running section stops (``timed out``) and the rest are ``skipped``.
``--dry-run`` runs every section at tiny sizes on whatever device there is
(a CPU in the tests).
"""

import argparse
import contextlib
import gc
import json
import math
import os
import os.path as osp
import platform
import signal
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional

import torch

from tsm_plugin.apis._cli import ArgumentParser, run_cli
from tsm_plugin.utils.atomic import atomic_write, write_json

from ._timing import log
from .gpu_report import (
    FAILED,
    NOT_AVAILABLE,
    OK,
    SKIPPED,
    TIMED_OUT,
    format_markdown,
    table_rows,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RECIPE = 'configs/tsm_r50_16f_ssv2.py'
VIDEO_DIR = '20bn-something-something-v2'
#: Full sizes (the recipe's) and the dry run's (seconds on a CPU).
SIZES = dict(
    full=dict(
        budget_s=480,
        step_config=RECIPE,
        frames=16,
        size=224,
        batch=None,  # the recipe's (8 clips per GPU)
        warmup=3,
        iters=10,
        threads=None,  # torch's default: all cores
        # Over the data mode's SSv2-sized videos (240p VP9, 12 fps, 2-6 s,
        # textured): 8 classes x 15 = 120 clips, 15 iterations of 8.
        videos=dict(num_train_per_class=15, num_val_per_class=1),
        workers=(4, 8, 15),
        loader_seconds=5.0,
        train_iters=30,
        train_warmup=5,  # first iterations: worker start-up, cuDNN
        train_options=(),
        train_crop=None,  # the recipe's 224
        ffn_flags=(),
        log_interval=5,
    ),
    dry=dict(
        budget_s=240,
        # ResNet-18 at 42x32 (the demo's model): the step's code path, fast.
        step_config='configs/tsm_demo_synthetic.py',
        frames=2,
        size=32,
        batch=1,
        warmup=0,
        iters=1,
        # One thread: a tiny model gains nothing from more, and on a busy
        # machine (tests in parallel) spinning OpenMP threads cost 10x.
        threads=1,
        videos=dict(
            height=32,
            width=42,
            fps=12,
            min_seconds=1.0,
            max_seconds=1.5,
            textured=False,
            num_train_per_class=1,
            num_val_per_class=1,
            num_test_per_class=0,
            seed=0,
        ),
        workers=(1, 2),
        loader_seconds=0.3,
        train_iters=2,
        train_warmup=0,
        train_options=(
            'num_frames=2',
            'model.backbone.depth=18',
            'model.cls_head.in_channels=512',
            'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=1',
        ),
        train_crop=64,
        ffn_flags=('--depth', '18'),
        log_interval=1,
    ),
)

#: Seconds a section needs at least (full run); with less left it is skipped.
MIN_SECONDS = dict(
    environment=0,
    step=60,
    videos=20,
    train=40,
    loader_webm=15,
    fp16_step=30,
    prepare=20,
    loader_prepared=15,
    ffn_step=30,
)


class BudgetExceeded(BaseException):
    """The check's time budget ran out inside a section (a BaseException,
    as KeyboardInterrupt: no ``except Exception`` in the code it interrupts,
    a dataset's bad-video handler say, takes it for an error of its own)."""


class NotAvailable(Exception):
    """A tool the section needs is not in this checkout."""


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise :class:`BudgetExceeded` in the main thread after ``seconds``."""

    def expire(signum, frame):
        raise BudgetExceeded(f'time budget spent after {seconds:.0f} s')

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _gib(nbytes: int) -> float:
    return round(nbytes / 2**30, 2)


class GpuCheck:
    """The check's state: sizes, device, work dirs, and the report.

    Args:
        out (str): where ``gpu_check.json`` and ``gpu_check.md`` go.
        work (str): videos, converted videos and the training work dir.
        dry_run (bool): tiny sizes.
        device (str): ``auto``, ``cuda``, ``cpu``, ...
        budget_s (float, optional): the time budget (default: 480 s full,
            240 s dry run).
        only (list, optional): run these sections alone (others skipped).
    """

    def __init__(
        self,
        out: str,
        work: str,
        dry_run: bool = False,
        device: str = 'auto',
        budget_s: Optional[float] = None,
        only: Optional[List[str]] = None,
    ) -> None:
        from tsm_plugin.utils.device import resolve_device

        self.out, self.work = out, work
        self.dry_run = dry_run
        self.sizes = SIZES['dry' if dry_run else 'full']
        self.device = resolve_device(device)
        self.budget_s = float(budget_s or self.sizes['budget_s'])
        self.only = only
        self.start = time.monotonic()
        self.video_root: Optional[str] = None
        self.prepared_root: Optional[str] = None
        self.prepared_format: Optional[str] = None
        self.report = dict(
            check='gpu_check',
            dry_run=dry_run,
            device=self.device,
            budget_s=self.budget_s,
            started=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
            sections={},
        )

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith('cuda')

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.start)

    # ---- running ---------------------------------------------------------

    def sections(self) -> Dict[str, Callable[[dict], None]]:
        return dict(
            environment=self.environment,
            step=self.step,
            videos=self.videos,
            train=self.train,
            loader_webm=self.loader_webm,
            fp16_step=self.fp16_step,
            prepare=self.prepare,
            loader_prepared=self.loader_prepared,
            ffn_step=self.ffn_step,
        )

    def run(self) -> dict:
        """Every section in order, guarded; the report after each."""
        threads = torch.get_num_threads()
        if self.sizes['threads']:
            torch.set_num_threads(self.sizes['threads'])
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> dict:
        if not (self.on_cuda or self.dry_run):
            log(
                f'gpu_check: no CUDA device ({self.device}): the full sizes '
                'take long here; --dry-run checks the code path in seconds'
            )
        for name, fn in self.sections().items():
            entry = dict(status=SKIPPED, result={})
            self.report['sections'][name] = entry
            need = 0 if self.dry_run else MIN_SECONDS[name]
            if self.only and name not in self.only and name != 'environment':
                entry['reason'] = 'not asked for (--only)'
            elif self.left() <= need:
                entry['reason'] = (
                    f'time budget: {self.left():.0f} s left, needs ~{need} s'
                )
            else:
                self._guarded(name, fn, entry)
            log(f'gpu_check: {name}: {entry["status"]}')
            self.write()
        self.report['elapsed_s'] = round(time.monotonic() - self.start, 1)
        self.write()
        return self.report

    def _guarded(self, name: str, fn, entry: dict) -> None:
        start = time.monotonic()
        if self.on_cuda:
            torch.cuda.reset_peak_memory_stats()
        try:
            with _alarm(self.left()):
                fn(entry['result'])
            entry['status'] = OK
        except BudgetExceeded as e:
            entry['status'] = TIMED_OUT
            entry['reason'] = str(e)
        except NotAvailable as e:
            entry['status'] = NOT_AVAILABLE
            entry['reason'] = str(e)
        except Exception as e:  # recorded; the other sections go on
            entry['status'] = FAILED
            entry['error'] = f'{type(e).__name__}: {e}'
            entry['traceback'] = traceback.format_exc(limit=8)
            log(f'gpu_check: {name} failed:\n{entry["traceback"]}')
        entry['seconds'] = round(time.monotonic() - start, 1)
        if self.on_cuda:
            entry['peak_gpu_memory_gib'] = _gib(
                torch.cuda.max_memory_allocated()
            )
        _release_memory()

    def write(self) -> None:
        """``gpu_check.json`` and ``gpu_check.md`` (atomic)."""
        os.makedirs(self.out, exist_ok=True)
        self.report['rows'] = table_rows(self.report)
        write_json(osp.join(self.out, 'gpu_check.json'), self.report)
        atomic_write(
            osp.join(self.out, 'gpu_check.md'), format_markdown(self.report)
        )

    # ---- sections --------------------------------------------------------

    def environment(self, res: dict) -> None:
        import importlib
        import importlib.metadata as md

        from tsm_plugin.engine.precision import (
            precision_name,
            resolve_channels_last,
            resolve_dtype,
        )

        from ._timing import device_name

        versions = {}
        for dist in ('mmengine', 'mmcv-lite', 'mmcv', 'mmaction2', 'av'):
            with contextlib.suppress(md.PackageNotFoundError):
                versions[dist] = md.version(dist)
        res.update(
            python=platform.python_version(),
            torch=torch.__version__,
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version() if self.on_cuda else None,
            versions=versions,
            device_name=device_name(self.device),
            cpus=_cpus(),
            recipe_precision=precision_name(
                resolve_dtype('auto', self.device)
            ),
            recipe_channels_last=bool(
                resolve_channels_last('auto', self.device)
            ),
            tools=dict(
                ffn_mode='ffn' in benchmark_modes(),
                prepare_ssv2=osp.isfile(
                    osp.join(REPO, 'tools', 'prepare_ssv2.py')
                ),
            ),
        )
        res['distutils_from'] = ensure_distutils()
        # Where the stack was imported from (--wheels: the temporary folder).
        res['stack_from'] = {
            mod: osp.dirname(
                osp.dirname(importlib.import_module(mod).__file__)
            )
            for mod in ('mmengine', 'mmcv', 'mmaction', 'av')
        }
        if self.on_cuda:
            props = torch.cuda.get_device_properties(self.device)
            res.update(
                capability='.'.join(map(str, (props.major, props.minor))),
                gpu_memory_gib=_gib(props.total_memory),
                multiprocessors=props.multi_processor_count,
                bf16_native=_bf16_native(),
            )

    def _mode(self, argv: List[str]) -> dict:
        """``tools/benchmark.py ARGV`` in this process; its report."""
        from .cli import build_parser

        args = build_parser().parse_args(argv)
        return args.func(args)

    def _step_flags(self, config: Optional[str] = None) -> List[str]:
        s = self.sizes
        flags = ['--device', self.device, '--warmup', str(s['warmup'])]
        flags += ['--iters', str(s['iters']), '--size', str(s['size'])]
        if s['batch']:
            flags += ['--batch', str(s['batch'])]
        if config:
            flags += ['--config', config]
        return flags

    def step(self, res: dict) -> None:
        s = self.sizes
        res.update(
            self._mode(
                ['model', '--frames', str(s['frames'])]
                + self._step_flags(s['step_config'])
            )
        )

    def fp16_step(self, res: dict) -> None:
        s = self.sizes
        res.update(
            self._mode(
                ['model', '--amp', 'fp16', '--frames', str(s['frames'])]
                + self._step_flags(s['step_config'])
            )
        )

    def ffn_step(self, res: dict) -> None:
        if 'ffn' not in benchmark_modes():
            raise NotAvailable('tools/benchmark.py has no ffn mode')
        res.update(
            self._mode(
                ['ffn'] + self._step_flags() + list(self.sizes['ffn_flags'])
            )
        )

    def videos(self, res: dict) -> None:
        from tsm_plugin.testing.synthetic_ssv2 import make_synthetic_ssv2

        from ._videos import BENCH_SET

        want = dict(self.sizes['videos'])
        if not self.dry_run:
            want = dict(BENCH_SET, **want)
        root = osp.join(self.work, 'ssv2_dry' if self.dry_run else 'ssv2_240p')
        stamp = osp.join(root, 'gpu_check.json')
        reused = False
        if osp.isfile(stamp):
            with open(stamp) as f:
                reused = json.load(f) == want
        start = time.perf_counter()
        if not reused:
            made = make_synthetic_ssv2(
                root,
                overwrite=True,
                progress=False,
                workers=max(1, _cpus()),
                **want,
            )
            write_json(stamp, want)
        self.video_root = root
        with open(osp.join(root, 'labels', 'train.json')) as f:
            train = len(json.load(f))
        res.update(
            root=root,
            reused=reused,
            seconds=round(time.perf_counter() - start, 1),
            train_videos=train,
            videos=made['counts'] if not reused else None,
            settings=want,
            bytes=_tree_bytes(osp.join(root, VIDEO_DIR)),
        )

    def _need_videos(self) -> str:
        if self.video_root is None:
            raise RuntimeError('no videos: the videos section did not run')
        return self.video_root

    def train(self, res: dict) -> None:
        from mmengine.runner import Runner

        from tsm_plugin.apis import train as train_api
        from tsm_plugin.engine.hooks import shutdown_workers
        from tsm_plugin.utils.config import load_config

        ensure_distutils()
        root = self._need_videos()
        s = self.sizes
        work_dir = osp.join(self.work, 'train')
        with open(osp.join(root, 'labels', 'train.json')) as f:
            videos = len(json.load(f))
        options = [
            # no download: the figures do not depend on the weights
            'model.backbone.pretrained=None',
            f'default_hooks.logger.interval={s["log_interval"]}',
            'default_hooks.checkpoint.interval=1000000',
            'default_hooks.checkpoint.save_last=False',
            *s['train_options'],
        ]
        args = train_api.build_parser().parse_args(
            [RECIPE, '--work-dir', work_dir, '--data-root', root]
            + ['--no-validate', '--seed', '0', '--cfg-options', *options]
        )
        cfg = load_config(args.config, args.cfg_options)
        batch = int(cfg.train_dataloader.batch_size)
        per_epoch = math.ceil(videos / batch)
        args.epochs = max(1, math.ceil(s['train_iters'] / per_epoch))
        cfg = train_api.merge_args(cfg, args)
        if s['train_crop']:
            shrink_crops(
                cfg.train_dataloader.dataset.pipeline, s['train_crop']
            )
        res['dropped_vis_backends'] = drop_missing_tensorboard(cfg)
        threads = torch.get_num_threads()
        runner = Runner.from_cfg(cfg)
        try:
            runner.train()
        finally:
            for loop in (runner._train_loop,):
                shutdown_workers(getattr(loop, 'dataloader', None))
            torch.set_num_threads(threads)  # the thread policy's change
        hub = runner.message_hub
        data = [float(x) for x in hub.get_scalar('train/data_time').data[0]]
        total = [float(x) for x in hub.get_scalar('train/time').data[0]]
        warm = min(s['train_warmup'], max(0, len(total) - 1))
        steady = sum(total[warm:])
        res.update(
            config=RECIPE,
            iterations=len(total),
            epochs=args.epochs,
            batch=batch,
            num_workers=cfg.train_dataloader.num_workers,
            num_frames=int(cfg.num_frames),
            precision=_wrapper_precision(runner),
            warmup_iterations=warm,
            clips_per_s=round(batch * (len(total) - warm) / steady, 2),
            seconds_per_iter=round(steady / (len(total) - warm), 4),
            data_wait_share=round(sum(data[warm:]) / steady, 3),
            data_wait_share_all=round(sum(data) / sum(total), 3),
            data_time=[round(x, 4) for x in data],
            time=[round(x, 4) for x in total],
            extra_scalars=_wait_scalars(hub),
            work_dir=work_dir,
        )
        if self.on_cuda:
            res['peak_gpu_memory_gib'] = _gib(
                torch.cuda.max_memory_allocated()
            )
            res['peak_gpu_reserved_gib'] = _gib(
                torch.cuda.max_memory_reserved()
            )
        del runner

    def loader_webm(self, res: dict) -> None:
        self._loader(self._need_videos(), res)

    def prepare(self, res: dict) -> None:
        try:
            from tsm_plugin.apis.prepare_ssv2 import main as prepare_main
        except ImportError:
            raise NotAvailable('tools/prepare_ssv2.py is not in this checkout')
        src = self._need_videos()
        dst = osp.join(self.work, f'{osp.basename(src)}_prepared')
        argv = [src, dst, '--format', 'default', '--workers', str(_cpus())]
        start = time.perf_counter()
        status = prepare_main(argv)
        res.update(
            command='tools/prepare_ssv2.py ' + ' '.join(argv),
            seconds=round(time.perf_counter() - start, 1),
            exit_status=status,
        )
        if status != 0:
            raise RuntimeError(f'prepare_ssv2.py exited {status}')
        res['format'] = _prepared_format(dst)
        res['bytes'] = _tree_bytes(osp.join(dst, VIDEO_DIR))
        webm = _tree_bytes(osp.join(src, VIDEO_DIR))
        res['storage_ratio'] = round(res['bytes'] / webm, 2)
        self.prepared_root, self.prepared_format = dst, res['format']

    def loader_prepared(self, res: dict) -> None:
        if self.prepared_root is None:
            raise NotAvailable('no prepared set (see the prepare section)')
        res['format'] = self.prepared_format
        self._loader(self.prepared_root, res)

    def _loader(self, root: str, res: dict) -> None:
        """Clips/s of the recipe's training pipeline with N workers."""
        from mmaction.registry import DATASETS
        from mmengine.utils.dl_utils import set_multi_processing

        from tsm_plugin.utils.config import (
            load_config,
            set_data_root,
            set_num_frames,
        )

        from ._build import init_scope

        init_scope()
        s = self.sizes
        cfg = load_config(RECIPE)
        set_data_root(cfg, root)
        mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
        set_multi_processing(**mp_cfg, distributed=False)
        if self.dry_run:
            set_num_frames(cfg, s['frames'])
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        batch = int(s['batch'] or cfg.train_dataloader.batch_size)
        res.update(root=root, batch=batch, videos=len(dataset), rates={})
        for workers in s['workers']:
            rate = loader_rate(dataset, workers, batch, s['loader_seconds'])
            res['rates'][str(workers)] = round(rate, 1)
            log(f'gpu_check: loader {workers} workers: {rate:.1f} clips/s')


def ensure_distutils() -> str:
    """Make ``distutils`` importable; returns where it comes from.

    mmengine's Runner imports it as it starts (``collect_env``), and
    Python 3.12 has it no more: a Python whose setuptools is not installed
    in site-packages (its ``.pth`` hook) fails there. Importing setuptools
    (a fetched wheel, where the machine has none) puts it back.
    """
    import importlib.util

    if importlib.util.find_spec('distutils') is None:
        import setuptools  # noqa: F401  (registers its distutils)
    import distutils

    return osp.dirname(distutils.__file__)


def drop_missing_tensorboard(cfg) -> List[str]:
    """Without the ``tensorboard`` package, the config's TensorBoard
    backends are left out (the timings do not depend on them); returns
    their names."""
    import importlib.util

    from tsm_plugin.utils.config import type_name

    vis = cfg.get('visualizer') or {}
    backends = list(vis.get('vis_backends') or [])
    if importlib.util.find_spec('tensorboard') is not None:
        return []
    keep = [b for b in backends if 'Tensorboard' not in type_name(b)]
    vis['vis_backends'] = keep
    return [type_name(b) for b in backends if b not in keep]


def shrink_crops(pipeline: list, size: int) -> None:
    """Crop ``size`` instead of 224 in ``pipeline`` (in place; fused
    transforms included): the dry run's training at a fraction of the
    cost, through the recipe's transforms."""
    for t in pipeline:
        if not isinstance(t, dict):
            continue
        if t.get('input_size') == 224:
            t['input_size'] = size
        if tuple(t.get('scale') or ()) == (224, 224):
            t['scale'] = (size, size)
        if tuple(t.get('scale') or ()) == (-1, 256):
            t['scale'] = (-1, size * 8 // 7)
        shrink_crops(t.get('transforms') or [], size)


def loader_rate(dataset, workers: int, batch: int, seconds: float) -> float:
    """Clips/s of a DataLoader over ``dataset`` for ``seconds``.

    Clips are drawn with replacement, so the rate does not depend on the
    set's size; the first ``3 x workers`` batches (each worker's start-up
    and the prefetched queue) are not timed.
    """
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader, RandomSampler

    sampler = RandomSampler(dataset, replacement=True, num_samples=10**8)
    loader = DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=pseudo_collate,
    )
    it = iter(loader)
    try:
        for _ in range(3 * max(1, workers)):
            next(it)
        start, clips = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            clips += len(next(it)['inputs'])
        return clips / (time.perf_counter() - start)
    finally:
        shutdown = getattr(it, '_shutdown_workers', None)
        if shutdown is not None:
            shutdown()


# ---- helpers ---------------------------------------------------------------


def _cpus() -> int:
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _bf16_native() -> bool:
    """bf16 without emulation (compute capability >= 8.0)."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch: no such argument
        return torch.cuda.get_device_capability() >= (8, 0)


def benchmark_modes() -> List[str]:
    """The modes ``tools/benchmark.py`` has (``model``, ``ffn``, ...)."""
    from .cli import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions:
        return list(action.choices)
    return []


def _prepared_format(root: str) -> Optional[str]:
    """The format a prepared set's ``prepared.json`` names, if any."""
    marker = osp.join(root, VIDEO_DIR, 'prepared.json')
    with contextlib.suppress(OSError, ValueError):
        with open(marker) as f:
            return str(json.load(f).get('format'))
    return None


def _tree_bytes(root: str) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += osp.getsize(osp.join(folder, name))
    return total


def _wrapper_precision(runner) -> Optional[str]:
    from tsm_plugin.engine.precision import precision_name

    dtype = getattr(runner.optim_wrapper, 'dtype', 'n/a')
    return precision_name(dtype) if dtype != 'n/a' else None


def _wait_scalars(hub) -> dict:
    """Means of the training scalars about waiting for data other than
    mmengine's own (a data-wait hook's, where the recipe has one)."""
    out = {}
    for key, buf in hub.log_scalars.items():
        if 'wait' in key or 'clips_per_s' in key:
            values = buf.data[0]
            if len(values):
                out[key] = round(float(sum(values) / len(values)), 4)
    return out


# ---- CLI -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog='gpu_check',
        description='The GPU figures in one run (tools/gpu_check.sh).',
    )
    p.add_argument('--out', required=True, help='gpu_check.json/.md go here')
    p.add_argument(
        '--work',
        default=None,
        help='videos and training work dir (default: OUT/../gpu_check_work '
        'under the temp dir)',
    )
    p.add_argument(
        '--dry-run', action='store_true', help='tiny sizes (CPU, seconds)'
    )
    p.add_argument('--device', default='auto', help='auto, cuda, cuda:1, cpu')
    p.add_argument(
        '--budget',
        type=float,
        default=None,
        help='seconds for all sections (default: 480; dry run 240)',
    )
    p.add_argument(
        '--only',
        nargs='+',
        choices=list(MIN_SECONDS),
        help='run these sections alone',
    )
    return p


def run(args: argparse.Namespace) -> dict:
    import tempfile

    work = args.work or osp.join(tempfile.gettempdir(), 'tsm_gpu_check')
    check = GpuCheck(
        args.out,
        work,
        dry_run=args.dry_run,
        device=args.device,
        budget_s=args.budget,
        only=args.only,
    )
    report = check.run()
    sys.stdout.write(format_markdown(report))
    return report


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status 0 when every section ran or was not available, else 1
    (the files are written either way); 2 for a bad flag."""
    args = build_parser().parse_args(argv)
    status = run_cli(run, args)
    if status != 0:
        return status
    with open(osp.join(args.out, 'gpu_check.json')) as f:
        sections = json.load(f)['sections'].values()
    bad = [s for s in sections if s['status'] in (FAILED, TIMED_OUT)]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
