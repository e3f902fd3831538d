"""Config loading and the command-line overrides shared by the tools.

Each override changes every place a setting lives (all dataloaders, every
scheduler), so a flag can never leave the config half-changed.
"""
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from ..errors import InputError

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file, failing with one line if it does not exist."""
    if not osp.isfile(path):
        raise InputError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def iter_datasets(cfg: Config, loaders: Sequence[str] = DATALOADERS):
    """Yield the dataset dict of every dataloader the config defines.

    ``loaders`` restricts the walk to some dataloaders (names in the config).

    Wrapped datasets (``RepeatDataset``, ``ConcatDataset``...) are walked
    down to the leaves, the dicts that carry ``ann_file``.
    """
    seen = set()
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        stack = [loader['dataset']]
        while stack:
            ds = stack.pop()
            if id(ds) in seen:
                continue
            seen.add(id(ds))
            if 'dataset' in ds:
                stack.append(ds['dataset'])
            elif 'datasets' in ds:
                stack.extend(ds['datasets'])
            else:
                yield ds


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataset at ``data_root`` (the SSv2 folder as downloaded).

    Raises:
        InputError: if ``data_root`` is not a directory.
    """
    if not osp.isdir(data_root):
        raise InputError(f'--data-root does not exist: {data_root}')
    cfg.data_root = data_root
    for ds in iter_datasets(cfg):
        ds['data_root'] = data_root


def set_epochs(cfg: Config, epochs: int) -> None:
    """Train for ``epochs`` epochs, stretching the LR schedule to match.

    Schedulers that ended at the old last epoch end at the new one, and a
    cosine's ``T_max`` follows its span, so cosine still anneals to ~0.
    """
    if epochs < 1:
        raise InputError(f'--epochs must be >= 1, got {epochs}')
    old = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        if sched.get('end') == old or sched.get('end') is None:
            sched['end'] = epochs
        sched['begin'] = min(sched.get('begin', 0), epochs - 1)
        if 'T_max' in sched:
            sched['T_max'] = sched['end'] - sched['begin']


def set_loader_option(cfg: Config, key: str, value: int,
                      loaders: Sequence[str] = DATALOADERS) -> None:
    """Set ``batch_size`` or ``num_workers`` on the given dataloaders."""
    if value < (1 if key == 'batch_size' else 0):
        raise InputError(f'--{key.replace("_", "-")} out of range: {value}')
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        loader[key] = value
        if key == 'num_workers' and value == 0:
            # persistent workers need workers.
            loader['persistent_workers'] = False


def set_num_frames(cfg: Config, num_frames: int) -> None:
    """Use ``num_frames`` frames everywhere a frame count lives, together.

    mmaction2 keeps it in three places: the backbone's shift
    (``backbone.num_segments``), the head's consensus
    (``cls_head.num_segments``) and every sampler's ``num_clips``. Changing
    one alone gives silently wrong numbers (mmaction2 #361) or a crash
    (#2767).
    """
    if num_frames < 1:
        raise InputError(f'number of frames must be >= 1, got {num_frames}')
    model = cfg.model
    for part in ('backbone', 'cls_head'):
        if part in model and 'num_segments' in model[part]:
            model[part]['num_segments'] = num_frames
    pipelines = [ds.get('pipeline') or [] for ds in iter_datasets(cfg)]
    pipelines += [cfg.get(k) for k in ('train_pipeline', 'val_pipeline',
                                        'test_pipeline') if cfg.get(k)]
    for pipeline in pipelines:
        for transform in pipeline:
            if 'num_clips' in transform:
                transform['num_clips'] = num_frames
    if 'num_frames' in cfg:
        cfg.num_frames = num_frames
