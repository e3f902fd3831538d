"""Let ``--launcher pytorch|slurm|mpi`` start on a machine without CUDA.

mmengine 0.10.7's ``_init_dist_pytorch``, ``_init_dist_slurm`` and
``_init_dist_mpi`` (``mmengine/dist/utils.py``,
https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/dist/utils.py)
call ``torch.cuda.set_device(local_rank)`` unconditionally, which raises on
a CPU-only torch (``torch._C has no attribute '_cuda_setDevice'``), and the
config's ``dist_cfg.backend='nccl'`` needs CUDA anyway. Without CUDA the
backend becomes ``gloo`` and ``set_device`` is skipped, so
``tools/dist_train.sh`` runs on CPU with no config change. With CUDA nothing
changes. ``init_dist`` looks these helpers up as module globals, so
replacing them there is enough.
"""

import functools

INITS = ('_init_dist_pytorch', '_init_dist_slurm', '_init_dist_mpi')


def cuda_free(original):
    """Wrap an mmengine ``_init_dist_*`` so it runs on a torch without CUDA."""
    import torch

    @functools.wraps(original)
    def init(backend, *args, **kwargs):
        if torch.cuda.is_available():
            return original(backend, *args, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None
        try:
            return original(backend, *args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    return init


def apply() -> bool:
    """Wrap the three launchers' init functions.

    Returns:
        bool: whether the patch was installed.
    """
    from mmengine.dist import utils

    for name in INITS:
        setattr(utils, name, cuda_free(getattr(utils, name)))
    return True
