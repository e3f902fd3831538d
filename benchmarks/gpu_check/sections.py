"""The nine sections: each a function ``section(check, res)`` that fills
``res`` (its result in the report) from the check's state (its sizes,
device and work dir; :class:`~.check.GpuCheck`)."""

import contextlib
import importlib
import json
import os
import os.path as osp
import platform
import time
from typing import TYPE_CHECKING, List, Optional

import torch

from tsm_plugin.utils.atomic import write_json
from tsm_plugin.utils.workers import available_cores

from .._timing import device_name, log
from .budget import NotAvailable
from .sizes import RECIPE, REPO, VIDEO_DIR
from .training import ensure_distutils, train_recipe

if TYPE_CHECKING:
    from .check import GpuCheck


def gib(nbytes: int) -> float:
    """Bytes in GiB, to 2 decimals."""
    return round(nbytes / 2**30, 2)


def environment(check: 'GpuCheck', res: dict) -> None:
    """Versions, the device, the precision the recipe picks, the CPUs."""
    import importlib.metadata as md

    from tsm_plugin.engine.precision import (
        has_fast_bf16,
        precision_name,
        resolve_channels_last,
        resolve_dtype,
    )

    versions = {}
    for dist in ('mmengine', 'mmcv-lite', 'mmcv', 'mmaction2', 'av'):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[dist] = md.version(dist)
    res.update(
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version() if check.on_cuda else None,
        versions=versions,
        device_name=device_name(check.device),
        cpus=available_cores(),
        recipe_precision=precision_name(resolve_dtype('auto', check.device)),
        recipe_channels_last=bool(resolve_channels_last('auto', check.device)),
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
        mod: osp.dirname(osp.dirname(importlib.import_module(mod).__file__))
        for mod in ('mmengine', 'mmcv', 'mmaction', 'av')
    }
    if check.on_cuda:
        props = torch.cuda.get_device_properties(check.device)
        res.update(
            capability='.'.join(map(str, (props.major, props.minor))),
            gpu_memory_gib=gib(props.total_memory),
            multiprocessors=props.multi_processor_count,
            bf16_native=has_fast_bf16(check.device),
        )


def benchmark_modes() -> List[str]:
    """The modes ``tools/benchmark.py`` has (``model``, ``ffn``, ...)."""
    from ..cli import mode_names

    return mode_names()


def _mode(argv: List[str]) -> dict:
    """``tools/benchmark.py ARGV`` in this process; its report."""
    from ..cli import build_parser

    args = build_parser().parse_args(argv)
    return args.func(args)


def _step_flags(check: 'GpuCheck', config: Optional[str] = None) -> List[str]:
    s = check.sizes
    flags = ['--device', check.device, '--warmup', str(s['warmup'])]
    flags += ['--iters', str(s['iters']), '--size', str(s['size'])]
    if s['batch']:
        flags += ['--batch', str(s['batch'])]
    if config:
        flags += ['--config', config]
    return flags


def step(check: 'GpuCheck', res: dict) -> None:
    """The recipe's step (``tools/benchmark.py model``)."""
    s = check.sizes
    flags = _step_flags(check, s['step_config'])
    res.update(_mode(['model', '--frames', str(s['frames'])] + flags))


def fp16_step(check: 'GpuCheck', res: dict) -> None:
    """The step in fp16 with loss scaling."""
    s = check.sizes
    flags = _step_flags(check, s['step_config'])
    res.update(
        _mode(['model', '--amp', 'fp16', '--frames', str(s['frames'])] + flags)
    )


def ffn_step(check: 'GpuCheck', res: dict) -> None:
    """One FFN step against one TSM step (``tools/benchmark.py ffn``)."""
    if 'ffn' not in benchmark_modes():
        raise NotAvailable('tools/benchmark.py has no ffn mode')
    res.update(
        _mode(['ffn'] + _step_flags(check) + list(check.sizes['ffn_flags']))
    )


def videos(check: 'GpuCheck', res: dict) -> None:
    """SSv2-sized synthetic videos, made with all cores (reused when an
    earlier run made the same)."""
    from tsm_plugin.testing.synthetic_ssv2 import make_synthetic_ssv2

    from .._videos import BENCH_SET

    want = dict(check.sizes['videos'])
    if not check.dry_run:
        want = dict(BENCH_SET, **want)
    root = osp.join(check.work, 'ssv2_dry' if check.dry_run else 'ssv2_240p')
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
            workers=available_cores(),
            **want,
        )
        write_json(stamp, want)
    check.video_root = root
    res.update(
        root=root,
        reused=reused,
        seconds=round(time.perf_counter() - start, 1),
        train_videos=_train_videos(root),
        videos=made['counts'] if not reused else None,
        settings=want,
        bytes=_tree_bytes(osp.join(root, VIDEO_DIR)),
    )


def _need_videos(check: 'GpuCheck') -> str:
    if check.video_root is None:
        raise RuntimeError('no videos: the videos section did not run')
    return check.video_root


def _train_videos(root: str) -> int:
    with open(osp.join(root, 'labels', 'train.json')) as f:
        return len(json.load(f))


def train(check: 'GpuCheck', res: dict) -> None:
    """The recipe trained by the Runner on the videos (see
    :func:`.training.train_recipe`), and its peak GPU memory."""
    root = _need_videos(check)
    work_dir = osp.join(check.work, 'train')
    res.update(
        train_recipe(root, _train_videos(root), work_dir, check.sizes, RECIPE)
    )
    if check.on_cuda:
        res['peak_gpu_memory_gib'] = gib(torch.cuda.max_memory_allocated())
        res['peak_gpu_reserved_gib'] = gib(torch.cuda.max_memory_reserved())


def loader_webm(check: 'GpuCheck', res: dict) -> None:
    """The recipe's training pipeline through a DataLoader, on the .webm."""
    _loader(check, _need_videos(check), res)


def prepare(check: 'GpuCheck', res: dict) -> None:
    """The videos converted by ``tools/prepare_ssv2.py`` (its default)."""
    try:
        from tsm_plugin.apis.prepare_ssv2 import main as prepare_main
    except ImportError:
        raise NotAvailable('tools/prepare_ssv2.py is not in this checkout')
    src = _need_videos(check)
    dst = osp.join(check.work, f'{osp.basename(src)}_prepared')
    argv = [src, dst, '--format', 'default']
    argv += ['--workers', str(available_cores())]
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
    check.prepared_root, check.prepared_format = dst, res['format']


def loader_prepared(check: 'GpuCheck', res: dict) -> None:
    """The same loader on the prepared copy."""
    if check.prepared_root is None:
        raise NotAvailable('no prepared set (see the prepare section)')
    res['format'] = check.prepared_format
    _loader(check, check.prepared_root, res)


def _loader(check: 'GpuCheck', root: str, res: dict) -> None:
    """Clips/s of the recipe's training pipeline with N workers."""
    from mmaction.registry import DATASETS
    from mmengine.utils.dl_utils import set_multi_processing

    from tsm_plugin.utils.config import (
        load_config,
        set_data_root,
        set_num_frames,
    )

    from .._build import init_scope
    from .._data import loader_rate

    init_scope()
    s = check.sizes
    cfg = load_config(RECIPE)
    set_data_root(cfg, root)
    mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
    set_multi_processing(**mp_cfg, distributed=False)
    if check.dry_run:
        set_num_frames(cfg, s['frames'])
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = int(s['batch'] or cfg.train_dataloader.batch_size)
    res.update(root=root, batch=batch, videos=len(dataset), rates={})
    for workers in s['workers']:
        rate = loader_rate(dataset, workers, batch, s['loader_seconds'])
        res['rates'][str(workers)] = round(rate, 1)
        log(f'gpu_check: loader {workers} workers: {rate:.1f} clips/s')


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


#: The sections, in the order they run (the budget's ``MIN_SECONDS``).
SECTIONS = dict(
    environment=environment,
    step=step,
    videos=videos,
    train=train,
    loader_webm=loader_webm,
    fp16_step=fp16_step,
    prepare=prepare,
    loader_prepared=loader_prepared,
    ffn_step=ffn_step,
)
