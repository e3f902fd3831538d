"""An epoch-based training loop that resumes exactly, even mid-epoch.

mmengine 0.10.7's ``EpochBasedTrainLoop`` resumed from a checkpoint saved
inside an epoch replays that epoch from its first batch, and three sources
of randomness differ from the run that was interrupted: the sampler's seed
(a new random one unless ``randomness.seed`` is fixed; never saved when
``diff_rank_seed`` is on), the dataloader workers' augmentation streams
(reseeded identically every time workers start) and the main process's
torch RNG (dropout), whose state is not saved.
:class:`ResumableEpochBasedTrainLoop` makes training a function of the seed
and the position only:

* the partial epoch starts at the batch after the last one trained; the
  batches before it are skipped by the sampler, not loaded;
* the sampler's seed is saved in the checkpoint (message hub) and restored;
* every sample's augmentation is seeded from ``(seed, epoch, position)``
  (:class:`~tsm_plugin.engine.samplers.ResumableSampler`);
* before each iteration the main process's RNGs (torch incl. CUDA, numpy,
  random) are seeded from ``(seed, iteration)``.

So a run stopped at any iteration and resumed ends with the same weights
as one that never stopped (on CPU bit for bit; on GPU up to the usual
non-determinism of cuDNN unless ``--deterministic``).

The same exact restart serves the dataset's ``decode_deadline``
(:mod:`~tsm_plugin.engine.decode_watchdog`): a worker stuck decoding one
video is replaced and the epoch goes on at the batch it was making, as if
that video were unreadable.
"""

import torch
from mmaction.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from ..utils.seeding import seed_iteration
from .decode_watchdog import guard_loader
from .samplers import loader_sampler as _sampler

SAMPLER_SEED_KEY = 'tsm_sampler_seed'


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose resume continues at the exact batch.

    Same arguments as ``EpochBasedTrainLoop``. Pair it with
    ``sampler=dict(type='ResumableSampler')`` for skipping without loading
    and for per-sample seeds; with another sampler the skipped batches are
    loaded and dropped (same order, slower, augmentation not exact).
    """

    def run(self) -> torch.nn.Module:
        self._restore_sampler_seed()
        guard_loader(self.dataloader)
        return super().run()

    def _restore_sampler_seed(self) -> None:
        """Use the sampler seed of the run being resumed; record ours."""
        sampler = _sampler(self.dataloader)
        if sampler is None or not hasattr(sampler, 'seed'):
            return
        hub = self.runner.message_hub
        saved = hub.get_info(SAMPLER_SEED_KEY)
        if saved is not None and saved != sampler.seed:
            print_log(
                f'Data order: sampler seed {saved} of the resumed run '
                f'(not {sampler.seed})',
                logger='current',
            )
            sampler.seed = saved
        hub.update_info(SAMPLER_SEED_KEY, sampler.seed)

    def _batches_done(self) -> int:
        """Batches of the current epoch trained before a resume."""
        n = len(self.dataloader)
        done = self._iter - self._epoch * n
        if not 0 <= done <= n:
            print_log(
                f'Resumed at iteration {self._iter}, epoch {self._epoch}, '
                f'which does not fit {n} batches per epoch (batch size or '
                'dataset changed?): starting this epoch from its first '
                'batch.',
                logger='current',
                level=30,
            )
            return 0
        return done

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start = self._batches_done()
        batches = iter(())
        if start < len(self.dataloader):
            sampler = _sampler(self.dataloader)
            if start and hasattr(sampler, 'skip'):
                sampler.skip(start * self.dataloader.batch_size)
                batches = iter(self.dataloader)
            else:
                batches = iter(self.dataloader)
                if start:
                    print_log(
                        f'{type(sampler).__name__} cannot skip: '
                        f'loading and dropping {start} batches',
                        logger='current',
                        level=30,
                    )
                    for _ in range(start):
                        next(batches)
            if start:
                print_log(
                    f'Resuming epoch {self._epoch + 1} at batch '
                    f'{start + 1}/{len(self.dataloader)}',
                    logger='current',
                )
        for idx, data_batch in enumerate(batches, start):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx, data_batch) -> None:
        seed_iteration(self.runner.seed, self._iter)
        super().run_iter(idx, data_batch)
