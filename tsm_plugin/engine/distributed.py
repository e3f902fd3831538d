"""Checks of a distributed run, and what a restarted worker needs to know.

Launching is MMEngine's (``--launcher pytorch|slurm``, started by
``tools/dist_train.sh`` / ``tools/slurm_train.sh``); the CPU path (gloo, no
``torch.cuda.set_device``, DDP without ``device_ids``) is a fix of the
published stack in :mod:`tsm_plugin.compat`. What stays here is what a user
can get wrong in the config, and :func:`elastic_restart`: which restart of
a job this process belongs to. ``tools/dist_train.sh`` and
``tools/slurm_train.sh`` (``MAX_RESTARTS``) start every process again after
one fails and say so in ``TSM_RESTART_COUNT`` / ``TSM_MAX_RESTARTS``;
torchrun's own ``--max-restarts`` sets ``TORCHELASTIC_RESTART_COUNT`` /
``TORCHELASTIC_MAX_RESTARTS``, read as well.
"""

import os
from typing import Mapping, NamedTuple, Optional

from mmengine.config import Config

from ..errors import InputError

#: (restarts so far, the most allowed): set by tools/launch.sh's and
#: tools/slurm_train.sh's retries, and by torchrun's ``--max-restarts``.
RESTART_VARIABLES = (
    ('TSM_RESTART_COUNT', 'TSM_MAX_RESTARTS'),
    ('TORCHELASTIC_RESTART_COUNT', 'TORCHELASTIC_MAX_RESTARTS'),
)


class Restart(NamedTuple):
    """This attempt's place among the job's restarts (``count`` >= 1)."""

    count: int
    max: int


def _env_count(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, '0')
    if not value.isdigit():
        raise InputError(f'{name}={value!r}: expected a whole number >= 0')
    return int(value)


def elastic_restart(
    environ: Optional[Mapping[str, str]] = None,
) -> Optional[Restart]:
    """The restart this process belongs to; None on a job's first attempt.

    Args:
        environ (Mapping, optional): The environment (default: this
            process's).

    Raises:
        InputError: a variable is set but is not a whole number.
    """
    environ = os.environ if environ is None else environ
    for count_name, max_name in RESTART_VARIABLES:
        count = _env_count(environ, count_name)
        if count > 0:
            return Restart(count, max(count, _env_count(environ, max_name)))
    return None


def restart_line(restart: Restart, cfg: Config) -> str:
    """The one log line of a restarted attempt: where it resumes from."""
    head = f'restart {restart.count} of {restart.max}'
    load_from = cfg.get('load_from')
    if cfg.get('resume') and load_from:
        return f'{head}: resuming from {load_from}'
    start = f'from {load_from}' if load_from else 'from scratch'
    return (
        f'{head}: no complete checkpoint in {cfg.work_dir} yet, starting '
        f'again {start}'
    )


def check_sync_bn(cfg: Config) -> None:
    """Refuse ``sync_bn`` in a distributed run without CUDA, in one line.

    MMEngine converts every BN layer to ``torch.nn.SyncBatchNorm`` when
    ``cfg.sync_bn`` is set and the run is distributed; torch's DDP then
    refuses a model that is not on a GPU ("SyncBatchNorm layers only work
    with GPU modules"). A single-process run ignores ``sync_bn``, so it is
    allowed there.

    Args:
        cfg (Config): the config, with ``launcher`` already set.

    Raises:
        InputError: if ``sync_bn`` is set, the launcher is not ``none`` and
            CUDA is not available.
    """
    import torch

    sync_bn = cfg.get('sync_bn')
    if (
        sync_bn
        and cfg.get('launcher', 'none') != 'none'
        and not torch.cuda.is_available()
    ):
        raise InputError(
            f'sync_bn={sync_bn!r} needs CUDA GPUs (torch SyncBatchNorm does '
            'not run on CPU); drop it for a CPU run'
        )
