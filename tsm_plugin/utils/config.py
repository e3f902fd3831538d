"""Config loading and the overrides shared by the tools.

A recipe sets two values once, at its top level, and :func:`load_config`
carries them everywhere they live:

* ``num_frames``: the frame count of the backbone's shift
  (``model.backbone.num_segments``), the head's consensus
  (``model.cls_head.num_segments``) and every sampler's ``num_clips``;
* ``max_epochs``: ``train_cfg.max_epochs`` and the end of the LR schedule.

Each override changes every place a setting lives (all dataloaders, every
scheduler), so neither a config nor a flag can leave it half-changed.
"""

import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..errors import ConfigValueError, InputError
from .workers import resolve_num_workers

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Frame samplers whose ``num_clips`` is the frame count, given or not.
SAMPLERS = ('SegmentSampleFrames', 'SampleFrames')
#: The top-level values :func:`load_config` carries into the config.
CARRIED = ('num_frames', 'max_epochs')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file; carry ``num_frames`` and ``max_epochs``; resolve
    ``num_workers='auto'`` (:mod:`tsm_plugin.utils.workers`).

    ``cfg_options`` (``--cfg-options``) are merged after the file's own
    values are carried, so an option on a nested key wins; an option on a
    carried key (``num_frames=8``) is carried too.

    Raises:
        InputError: a missing file, or a carried value out of range.
    """
    if not osp.isfile(path):
        raise InputError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    carry(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        carry(cfg, [k for k in CARRIED if k in cfg_options])
    resolve_num_workers(cfg, DATALOADERS)  # num_workers='auto'
    return cfg


def carry(cfg: Config, keys: Sequence[str] = CARRIED) -> None:
    """Carry the config's top-level ``num_frames``/``max_epochs`` inward."""
    if 'num_frames' in keys and cfg.get('num_frames') is not None:
        set_num_frames(cfg, cfg.num_frames, what='num_frames')
    if (
        'max_epochs' in keys
        and cfg.get('max_epochs') is not None
        and cfg.get('train_cfg')
    ):
        set_epochs(cfg, cfg.max_epochs, what='max_epochs')


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


def iter_built_datasets(dataset) -> Iterator:
    """A built dataset and every dataset it wraps (the twin of
    :func:`iter_datasets` for objects)."""
    stack, seen = [dataset], set()
    while stack:
        ds = stack.pop()
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        yield ds
        if hasattr(ds, 'dataset'):
            stack.append(ds.dataset)
        stack.extend(getattr(ds, 'datasets', []) or [])


def type_name(transform) -> str:
    """The type name of a transform dict (``type`` may be a class)."""
    if not isinstance(transform, dict):
        return type(transform).__name__
    t = transform.get('type', '')
    return t if isinstance(t, str) else getattr(t, '__name__', str(t))


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


def set_epochs(cfg: Config, epochs: int, what: str = '--epochs') -> None:
    """Train for ``epochs`` epochs, stretching the LR schedule to match.

    Schedulers that end where the schedule ends (the latest ``end``, or no
    ``end``) end at the new last epoch, and a cosine's ``T_max`` follows its
    span, so cosine still anneals to ~0.
    """
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise InputError(f'{what} must be an integer >= 1, got {epochs!r}')
    epochs = int(epochs)
    cfg.train_cfg.max_epochs = epochs
    cfg.max_epochs = epochs
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    ends = [s.get('end') for s in schedulers if s.get('end') is not None]
    last = max(ends, default=None)
    for sched in schedulers:
        if sched.get('end') in (last, None):
            sched['end'] = epochs
        sched['begin'] = min(sched.get('begin', 0), epochs - 1)
        if 'T_max' in sched:
            sched['T_max'] = sched['end'] - sched['begin']


def set_loader_option(
    cfg: Config, key: str, value: int, loaders: Sequence[str] = DATALOADERS
) -> None:
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


def check_frames(frames: Sequence[int], what: str = '--frames') -> List[int]:
    """Validate frame counts; returns them sorted, without duplicates.

    Raises:
        InputError: if ``frames`` is empty or holds a count below 1.
    """
    frames = [int(f) for f in frames]
    if not frames:
        raise InputError(f'{what}: give at least one frame count')
    bad = [f for f in frames if f < 1]
    if bad:
        raise InputError(f'{what}: frame counts must be >= 1, got {bad[0]}')
    return sorted(set(frames))


def check_frame_counts(
    frame_counts: Sequence[int], what: str = 'frame_counts'
) -> Tuple[int, ...]:
    """Validate distinct integer frame counts >= 1; returns them as a tuple.

    Raises:
        ConfigValueError: if empty, not integers >= 1, or repeated.
    """
    counts = (
        tuple(frame_counts)
        if isinstance(frame_counts, (list, tuple))
        else None
    )
    if not counts or any(
        isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts
    ):
        raise ConfigValueError(
            f'{what} must be a non-empty list of integers '
            f'>= 1, got {frame_counts!r}'
        )
    if len(set(counts)) != len(counts):
        raise ConfigValueError(
            f'{what} must not repeat a count, got {frame_counts!r}'
        )
    return counts


def set_num_frames(
    cfg: Config, num_frames: int, what: str = 'number of frames'
) -> None:
    """Use ``num_frames`` frames everywhere a frame count lives, together.

    mmaction2 keeps it in three places: the backbone's shift
    (``backbone.num_segments``), the head's consensus
    (``cls_head.num_segments``) and every sampler's ``num_clips``. Changing
    one alone gives silently wrong numbers (mmaction2 #361) or a crash
    (#2767). The config's top-level ``num_frames`` follows too.

    Raises:
        InputError: ``num_frames`` is not an integer >= 1.
    """
    if (
        isinstance(num_frames, bool)
        or int(num_frames) != num_frames
        or num_frames < 1
    ):
        raise InputError(f'{what} must be >= 1, got {num_frames!r}')
    num_frames = int(num_frames)
    model = cfg.get('model') or {}
    for part in ('backbone', 'cls_head'):
        if part in model and 'num_segments' in model[part]:
            model[part]['num_segments'] = num_frames
    pipelines = [ds.get('pipeline') or [] for ds in iter_datasets(cfg)]
    pipelines += [
        cfg.get(k)
        for k in ('train_pipeline', 'val_pipeline', 'test_pipeline')
        if cfg.get(k)
    ]
    for pipeline in pipelines:
        for transform in pipeline:
            if isinstance(transform, dict) and (
                'num_clips' in transform or type_name(transform) in SAMPLERS
            ):
                transform['num_clips'] = num_frames
    cfg.num_frames = num_frames


def get_num_frames(cfg: Config) -> int:
    """The frame count a config trains at (``model.backbone.num_segments``).

    Raises:
        InputError: the model has no ``backbone.num_segments``.
    """
    try:
        return int(cfg.model.backbone.num_segments)
    except (AttributeError, KeyError, TypeError):
        raise InputError(
            'config has no model.backbone.num_segments: not a TSM recognizer'
        ) from None


def eval_stage(cfg: Config) -> Tuple[str, dict, object]:
    """The split evaluation runs on: ``test``, else ``val``.

    Returns:
        tuple: ``(stage, dataloader cfg, evaluator cfg)``.

    Raises:
        InputError: the config has neither a test nor a val dataloader
            with an evaluator.
    """
    for stage in ('test', 'val'):
        loader = cfg.get(f'{stage}_dataloader')
        evaluator = cfg.get(f'{stage}_evaluator')
        if loader and evaluator:
            return stage, loader, evaluator
    raise InputError(
        'config has no test_dataloader/test_evaluator '
        '(nor val_dataloader/val_evaluator) to evaluate with'
    )
