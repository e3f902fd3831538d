"""The training machinery the configs name: loop, sampler, optim wrapper,
data preprocessor, hooks; and the one module that writes and reads
checkpoints (:mod:`.checkpoint`). Importing this package registers them."""

from . import (
    checkpoint,
    data_preprocessor,
    hooks,
    loops,
    optim_wrapper,
    samplers,
)

__all__ = [
    'checkpoint',
    'data_preprocessor',
    'hooks',
    'loops',
    'optim_wrapper',
    'samplers',
]
