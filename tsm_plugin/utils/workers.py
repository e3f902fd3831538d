"""``num_workers='auto'``: one dataloader worker per core this process may
use, save one for the training process itself.

Decoding is the cost of a clip (SSv2's VP9 .webm carry one keyframe, so 16
sampled frames cost decoding nearly all of them), so a GPU run wants every
core decoding. ``'auto'`` resolves, where the config is loaded
(:func:`tsm_plugin.utils.config.load_config`), to::

    min(MAX_AUTO_WORKERS, cores // local processes - 1)   (at least 0)

``cores`` are those this process may run on (``os.sched_getaffinity``, at
most ``SLURM_CPUS_PER_TASK`` where SLURM sets it); ``local processes`` is
torchrun's ``LOCAL_WORLD_SIZE`` (its ranks on one node share one affinity
set), 1 otherwise (``srun`` binds each task to its own cores). Each worker
computes in one torch thread and the main process gets the cores the
workers leave (:mod:`tsm_plugin.engine.hooks.thread_policy_hook`).
"""

import os
from typing import Dict, Optional, Sequence

from ..errors import ConfigValueError

AUTO = 'auto'
#: The most workers 'auto' gives one process: each holds its own copy of
#: torch and the pipeline, and on a machine whose affinity is not set per
#: job (a shared workstation) 'auto' would otherwise take every core. Set a
#: number to use more.
MAX_AUTO_WORKERS = 8


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where known)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _env_int(name: str) -> Optional[int]:
    value = os.environ.get(name, '')
    return int(value) if value.isdigit() and int(value) > 0 else None


def local_processes() -> int:
    """Training processes sharing this process's cores (torchrun's
    ``LOCAL_WORLD_SIZE``; 1 without torchrun)."""
    return _env_int('LOCAL_WORLD_SIZE') or 1


def cores_per_process() -> int:
    """This process's share of the cores: the available ones (at most
    ``SLURM_CPUS_PER_TASK``) divided among the local processes; >= 1."""
    cores = available_cores()
    slurm = _env_int('SLURM_CPUS_PER_TASK')
    if slurm is not None:
        cores = min(cores, slurm)
    return max(1, cores // local_processes())


def auto_num_workers(cap: int = MAX_AUTO_WORKERS) -> int:
    """What ``num_workers='auto'`` means here: this process's cores minus
    one (the training process), at most ``cap``, at least 0."""
    return max(0, min(cap, cores_per_process() - 1))


def resolve_num_workers(cfg, loaders: Sequence[str]) -> Dict[str, int]:
    """Replace ``num_workers='auto'`` in the given dataloaders of ``cfg``.

    A loader left with 0 workers (one core) also gets
    ``persistent_workers=False`` (PyTorch refuses it without workers).
    Silent: the config is loaded before the run's logger exists;
    ``ThreadPolicyHook`` logs the workers and threads at start.

    Args:
        cfg (Config | dict): the config.
        loaders (Sequence[str]): dataloader keys (``'train_dataloader'``...).

    Returns:
        dict: loader key -> the number it got (only those that said 'auto').

    Raises:
        ConfigValueError: a ``num_workers`` that is neither an integer
            >= 0 nor ``'auto'``.
    """
    resolved = {}
    for name in loaders:
        loader = cfg.get(name)
        if not loader:
            continue
        value = loader.get('num_workers', 0)
        if value == AUTO:
            value = resolved[name] = auto_num_workers()
            loader['num_workers'] = value
            if value == 0:
                loader['persistent_workers'] = False
        elif isinstance(value, bool) or not (
            isinstance(value, int) and value >= 0
        ):
            raise ConfigValueError(
                f"{name}.num_workers={value!r}: must be 'auto' or an "
                'integer >= 0'
            )
    return resolved
