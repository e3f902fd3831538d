"""Checks of a distributed run, made where the config enters the CLIs.

Launching is MMEngine's (``--launcher pytorch|slurm``, started by
``tools/dist_train.sh`` / ``tools/slurm_train.sh``); the CPU path (gloo, no
``torch.cuda.set_device``, DDP without ``device_ids``) is a fix of the
published stack in :mod:`tsm_plugin.compat`. What stays here is what a user
can get wrong in the config.
"""

from mmengine.config import Config

from ..errors import InputError


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
