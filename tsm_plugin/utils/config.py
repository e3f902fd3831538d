"""Config loading, the overrides shared by the tools, and the check of a
frame count.

A recipe sets these values once, at its top level, and :func:`load_config`
carries them everywhere they live:

* ``num_frames``: the frame count of the backbone's shift
  (``model.backbone.num_segments``), the head's consensus
  (``model.cls_head.num_segments``) and every sampler's ``num_clips``;
* ``frame_counts`` (a multi-count model, FFN): the branches' frame counts
  (``model.backbone.frame_counts``), and the training sampler: each training
  pipeline's ``SegmentSampleFrames`` becomes ``MultiCountSampleFrames``, one
  video sampled at every count and decoded once;
* ``train_frame_counts`` (FFN's Mixed and Proportional Sampling): that
  training sampler and the data preprocessor's ``blending``, not the backbone;
* ``max_epochs``: ``train_cfg.max_epochs`` and the end of the LR schedule;
* ``split`` (HMDB51's official split): every dataset that has a ``split``.

Each override changes every place a setting lives, so nothing is left
half-changed. A frame count is checked where it enters, by
:func:`check_count` (:func:`check_frame_counts` for several). The words:
``num_frames`` in configs and flags, ``num_segments`` on modules,
``frames`` the counts to evaluate, ``frame_counts`` a model's branches.
"""

import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

from ..errors import ConfigValueError, InputError
from .workers import resolve_num_workers

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Frame samplers whose ``num_clips`` is the frame count, given or not.
SAMPLERS = ('SegmentSampleFrames', 'SampleFrames')
#: The top-level values :func:`load_config` carries into the config.
CARRIED = ('num_frames', 'frame_counts', 'train_frame_counts', 'max_epochs')
CARRIED += ('split',)  # HMDB51's
#: The top-level pipelines (beside each dataset's) a frame count reaches.
PIPELINES = ('train_pipeline', 'val_pipeline', 'test_pipeline')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file; carry the values of :data:`CARRIED`; resolve
    ``num_workers='auto'`` (:mod:`tsm_plugin.utils.workers`).

    ``cfg_options`` (``--cfg-options``) are merged after the file's own
    values are carried, so an option on a nested key wins; an option on a
    carried key (``num_frames=8``) is carried too. A default hook set to
    None is removed (``default_hooks=dict(tfd=None)``).

    ``path`` is a file, or an installed package's config by scope
    (``mmaction::recognition/tsm/...``, :mod:`tsm_plugin.compat`).

    Raises: InputError: a missing file, or a carried value out of range.
    """
    cfg = _read(path)
    carry(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        carry(cfg, [k for k in CARRIED if k in cfg_options])
    resolve_num_workers(cfg, DATALOADERS)  # num_workers='auto'
    # None switches a default hook off (mmengine: only its own names)
    hooks = cfg.get('default_hooks') or {}
    for name in [k for k, v in hooks.items() if v is None]:
        hooks.pop(name)
    return cfg


def _read(path: str) -> Config:
    if '::' not in path:
        if not osp.isfile(path):
            raise InputError(f'config file not found: {path}')
        return Config.fromfile(path)
    try:  # what mmengine's lookup raises for a name it cannot find
        return Config.fromfile(path)
    except (AssertionError, OSError, ImportError, ValueError) as e:
        raise InputError(f'config not found: {path}: {e}') from None


def carry(cfg: Config, keys: Sequence[str] = CARRIED) -> None:
    """Carry the config's top-level values of :data:`CARRIED` inward
    (those of ``keys`` the config sets)."""
    for key, setter in (
        ('num_frames', set_num_frames),
        ('frame_counts', set_frame_counts),
        ('train_frame_counts', set_train_frame_counts),
    ):
        if key in keys and cfg.get(key) is not None:
            setter(cfg, cfg[key], what=key)
    if (
        'max_epochs' in keys
        and cfg.get('max_epochs') is not None
        and cfg.get('train_cfg')
    ):
        set_epochs(cfg, cfg.max_epochs, what='max_epochs')
    if 'split' in keys and cfg.get('split') is not None:
        for ds in (d for d in iter_datasets(cfg) if 'split' in d):
            ds['split'] = cfg.split


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

    Raises:
        ConfigValueError: ``epochs`` is not an integer >= 1.
    """
    epochs = check_count(epochs, what)
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


def check_count(value, what: str) -> int:
    """A frame count: an integer >= 1 (``True`` is not one), as an ``int``.

    The one check of a frame count (or any count: epochs), made where the
    value enters: a config (:func:`carry`), a flag, a module's constructor
    or setter.

    Raises:
        ConfigValueError: anything else; the message names ``what``.
    """
    try:
        whole = not isinstance(value, (bool, str)) and int(value) == value
    except (TypeError, ValueError, OverflowError):  # None, nan, inf
        whole = False
    if not whole:
        raise ConfigValueError(
            f'{what} must be an integer >= 1, got {value!r}'
        )
    if value < 1:
        raise ConfigValueError(f'{what} must be >= 1, got {value!r}')
    return int(value)


def check_frame_counts(
    frame_counts: Sequence[int],
    what: str = 'frame_counts',
    dedupe: bool = False,
) -> Tuple[int, ...]:
    """A non-empty list or tuple of frame counts (:func:`check_count` each),
    as a tuple.

    Args:
        frame_counts (Sequence[int]): the counts.
        what (str): their name in the error message.
        dedupe (bool): a set of counts to evaluate (``--frames``): a repeat
            is dropped and the counts come back ascending. False (a model's
            branches, in branch order): a repeat is an error and the order
            is kept.

    Raises:
        ConfigValueError: not a non-empty list, a count that is not an
            integer >= 1, or (unless ``dedupe``) a repeated count.
    """
    if not isinstance(frame_counts, (list, tuple)) or not frame_counts:
        raise ConfigValueError(
            f'{what} must be a non-empty list of integers '
            f'>= 1, got {frame_counts!r}'
        )
    counts = tuple(check_count(c, what) for c in frame_counts)
    if dedupe:
        return tuple(sorted(set(counts)))
    if len(set(counts)) != len(counts):
        raise ConfigValueError(
            f'{what} must not repeat a count, got {frame_counts!r}'
        )
    return counts


def is_frame_sampler(transform) -> bool:
    """Whether a pipeline step samples frames by ``num_clips`` (the frame
    count), given or not."""
    return isinstance(transform, dict) and (
        'num_clips' in transform or type_name(transform) in SAMPLERS
    )


def _pipelines(cfg: Config, loaders: Sequence[str], tops: Sequence[str]):
    """The pipelines of the datasets of ``loaders`` and the top-level
    pipelines named ``tops`` that the config has."""
    pipelines = [
        ds.get('pipeline') or [] for ds in iter_datasets(cfg, loaders)
    ]
    return pipelines + [cfg.get(k) for k in tops if cfg.get(k)]


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
        ConfigValueError: ``num_frames`` is not an integer >= 1.
    """
    num_frames = check_count(num_frames, what)
    model = cfg.get('model') or {}
    for part in ('backbone', 'cls_head'):
        if part in model and 'num_segments' in model[part]:
            model[part]['num_segments'] = num_frames
    for pipeline in _pipelines(cfg, DATALOADERS, PIPELINES):
        for transform in pipeline:
            if is_frame_sampler(transform):
                transform['num_clips'] = num_frames
    cfg.num_frames = num_frames


def set_frame_counts(
    cfg: Config, frame_counts: Sequence[int], what: str = 'frame_counts'
) -> None:
    """Train a multi-count model (FFN) at ``frame_counts``, everywhere.

    The backbone's branches (``model.backbone.frame_counts``, in branch
    order) and the training sampler (:func:`_sample_training_at`). The test
    pipelines keep their one frame count, ``num_frames``. The config's
    top-level ``frame_counts`` follows too.

    Raises:
        ConfigValueError: ``frame_counts`` is not a list of distinct
            integers >= 1, or the backbone has no ``frame_counts``.
    """
    counts = check_frame_counts(frame_counts, what)
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    if 'frame_counts' not in backbone:
        raise ConfigValueError(
            f'{what} is set but model.backbone has no frame_counts: '
            'not a multi-count model (FFN)'
        )
    backbone['frame_counts'] = counts
    _sample_training_at(cfg, counts)
    cfg.frame_counts = counts


def _sample_training_at(cfg: Config, counts: Sequence[int]) -> tuple:
    """In the training pipelines (the train dataloader's and the top-level
    ``train_pipeline``) a ``SegmentSampleFrames`` becomes a
    ``MultiCountSampleFrames``, which samples each video at every count and
    decodes it once; every ``MultiCountSampleFrames`` takes the counts
    largest first (the order it concatenates them in), which it returns."""
    largest_first = tuple(sorted(counts, reverse=True))
    sampler = dict(type='MultiCountSampleFrames', frame_counts=largest_first)
    training = _pipelines(cfg, ('train_dataloader',), ('train_pipeline',))
    for pipeline in training:
        for i, transform in enumerate(pipeline):
            if type_name(transform) == 'SegmentSampleFrames':
                pipeline[i] = ConfigDict(sampler)
            elif type_name(transform) == 'MultiCountSampleFrames':
                transform['frame_counts'] = largest_first
    return largest_first


def set_train_frame_counts(
    cfg: Config, frame_counts: Sequence[int], what: str = 'train_frame_counts'
) -> None:
    """One network trained on clips of several counts (FFN's Mixed and
    Proportional Sampling): the training sampler (:func:`_sample_training_at`)
    and ``model.data_preprocessor.blending``'s ``frame_counts`` (largest
    first), not the backbone. Raises ConfigValueError: not distinct integers
    >= 1."""
    counts = check_frame_counts(frame_counts, what)
    largest_first = _sample_training_at(cfg, counts)
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') or {}
    if isinstance(preprocessor.get('blending'), dict):
        preprocessor['blending']['frame_counts'] = largest_first
    cfg.train_frame_counts = counts


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
