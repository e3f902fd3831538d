"""A training sampler that can start mid-epoch and seeds every sample.

mmengine's ``DefaultSampler`` shuffles with ``seed + epoch``, so an epoch's
order is reproducible, but it always starts at the first sample, and the
augmentation a sample gets depends on which dataloader worker loads it and
what that worker loaded before. :class:`ResumableSampler` keeps the same
order and adds two things that make a resumed epoch exactly the epoch it
replaces:

* :meth:`ResumableSampler.skip` starts the next pass ``n`` samples in,
  without loading them;
* each index it yields is a :class:`SeededIndex`: an ``int`` that also
  carries a seed drawn from ``(seed, epoch, position)``. A dataset that reads
  it (``SSv2Dataset`` does) seeds the sample's augmentation with it, so the
  sample looks the same whatever worker loads it, with any number of
  workers, before or after a resume. Datasets that do not read it see a
  plain ``int``.
"""

from typing import Iterator, Optional, Sized

import numpy as np
from mmaction.registry import DATA_SAMPLERS
from mmengine.dataset import DefaultSampler

from ..utils.seeding import sample_seeds


def loader_sampler(dataloader):
    """The sampler of a dataloader (its batch sampler's, if it has one)."""
    sampler = getattr(dataloader, 'sampler', None)
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    if batch_sampler is not None and hasattr(batch_sampler, 'sampler'):
        sampler = batch_sampler.sampler
    return sampler


class SeededIndex(int):
    """A dataset index that carries the seed of its sample's randomness."""

    def __new__(cls, value: int, seed: Optional[int] = None):
        obj = super().__new__(cls, value)
        obj.seed = seed
        return obj

    def __reduce__(self):  # to dataloader workers, seed included
        return SeededIndex, (int(self), self.seed)

    def __repr__(self):
        return f'SeededIndex({int(self)}, seed={self.seed})'


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` that can skip ahead and seeds each sample.

    Same arguments and same order as ``DefaultSampler`` (shuffled with
    ``seed + epoch``, rounded up, split across ranks); ``len`` stays the
    full epoch, so the loop's epoch length never changes.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle every epoch. Defaults to True.
        seed (int, optional): Shuffle and per-sample seed; synced across
            ranks when None.
        round_up (bool): Pad to a multiple of the world size.
    """

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool = True,
        seed: Optional[int] = None,
        round_up: bool = True,
    ) -> None:
        super().__init__(
            dataset, shuffle=shuffle, seed=seed, round_up=round_up
        )
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Start the next pass ``num_samples`` samples (of this rank) in."""
        if num_samples < 0:
            raise ValueError(f'cannot skip {num_samples} samples')  # a bug
        self._skip = num_samples

    @property
    def pending_skip(self) -> int:
        """Samples the next pass skips (:meth:`skip`; 0 once it started)."""
        return self._skip

    def sample_seeds(self) -> np.ndarray:
        """One seed per global position of this epoch's order."""
        return sample_seeds(self.seed, self.epoch, self.total_size)

    def __iter__(self) -> Iterator[SeededIndex]:
        indices = list(super().__iter__())  # this rank's share, in order
        seeds = self.sample_seeds()
        start, self._skip = self._skip, 0
        for j in range(start, len(indices)):
            position = self.rank + j * self.world_size
            yield SeededIndex(indices[j], int(seeds[position]))
