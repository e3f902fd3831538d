"""Count, per epoch, the samples replaced because their video was unusable.

With ``on_bad_video='skip'`` a dataset
(:class:`~tsm_plugin.datasets.bad_videos.BadVideoPolicy`) replaces a sample
whose video cannot be used and logs each bad file once. This hook sums the
replacements of an epoch over all dataloader workers, records the count as
the ``train/skipped_videos`` (``val/skipped_videos``) scalar of every
epoch, and warns when it is not zero, so a run that quietly trains on a
shrinking dataset shows it.

It also puts the validation and test loaders (and the training loader of
a loop other than ``ResumableEpochBasedTrainLoop``) under the datasets'
decode deadline (:func:`~tsm_plugin.engine.decode_watchdog.guard_loader`),
so a decoder that never returns cannot stall evaluation either.
"""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ...utils.config import iter_built_datasets
from ..decode_watchdog import guard_loader


@HOOKS.register_module()
class SkippedVideosHook(Hook):
    """Per epoch: samples replaced for unusable videos, and distinct files."""

    priority = 'BELOW_NORMAL'

    def _report(self, runner, dataloader, mode: str) -> None:
        if dataloader is None:
            return
        skipped, bad = 0, 0
        for ds in iter_built_datasets(dataloader.dataset):
            if hasattr(ds, 'pop_skip_count'):
                skipped += ds.pop_skip_count()
                bad += len(ds.bad_indices())
        runner.visualizer.add_scalars(
            {f'{mode}/skipped_videos': skipped}, step=runner.iter
        )
        if skipped:
            runner.logger.warning(
                f'{mode} epoch {runner.epoch + (mode == "train")}: '
                f'{skipped} samples replaced because their video cannot be '
                f'used ({bad} distinct bad files so far, each logged once '
                'above; tools/preflight.py lists them all)'
            )

    def before_train_epoch(self, runner) -> None:
        """Guard the training loader (see the module docstring).

        Args:
            runner (Runner): The runner of the training process.
        """
        guard_loader(runner.train_dataloader)

    def before_val_epoch(self, runner) -> None:
        """Guard the validation loader (see the module docstring).

        Args:
            runner (Runner): The runner of the training process.
        """
        if runner.val_loop is not None:
            guard_loader(runner.val_loop.dataloader)

    def before_test_epoch(self, runner) -> None:
        """Guard the test loader (see the module docstring).

        Args:
            runner (Runner): The runner of the test process.
        """
        if runner.test_loop is not None:
            guard_loader(runner.test_loop.dataloader)

    def after_train_epoch(self, runner) -> None:
        """Report the training epoch that just ended.

        Args:
            runner (Runner): The runner of the training process.
        """
        self._report(runner, runner.train_dataloader, 'train')

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Report the validation epoch that just ended.

        Args:
            runner (Runner): The runner of the training process.
            metrics (dict, optional): The validation metrics (unused).
        """
        self._report(
            runner,
            runner.val_loop.dataloader
            if runner.val_loop is not None
            else None,
            'val',
        )
