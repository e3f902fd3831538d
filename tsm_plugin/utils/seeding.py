"""Seeds drawn from positions, so a resumed run repeats the stopped one.

Training is made a function of the run's seed and the position alone
(:class:`~tsm_plugin.engine.loops.ResumableEpochBasedTrainLoop`): the main
process's RNGs are seeded per iteration (:func:`seed_iteration`), each
sample's augmentation per (epoch, position) (:func:`sample_seeds`), and the
dataset applies a sample's seed to its pipeline alone (:func:`seeded_rng`).
"""

import random
from contextlib import contextmanager
from typing import Optional

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """A 32-bit seed from integers (``numpy.random.SeedSequence``)."""
    state = np.random.SeedSequence([int(k) % 2**63 for k in keys])
    return int(state.generate_state(1, dtype=np.uint32)[0])


def seed_iteration(seed: int, iteration: int) -> None:
    """Seed torch (CPU and CUDA), numpy and random from (seed, iteration)."""
    value = derive_seed(seed, iteration)
    torch.manual_seed(value)  # also every CUDA device
    np.random.seed(value)
    random.seed(value)


def sample_seeds(seed: int, epoch: int, size: int) -> np.ndarray:
    """One seed per global position of an epoch's sample order."""
    rng = np.random.default_rng([seed, epoch])
    return rng.integers(0, 2**31, size=size, dtype=np.int64)


@contextmanager
def seeded_rng(seed: Optional[int]):
    """Seed random, numpy and torch (CPU) for a block, then restore them.

    The block's randomness is a function of ``seed`` alone; the caller's
    random streams continue as if the block had not run. ``None`` does
    nothing.
    """
    if seed is None:
        yield
        return
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)  # CPU only: CUDA untouched
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
