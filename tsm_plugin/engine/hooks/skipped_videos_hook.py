"""Log how many samples were replaced because their video was unusable.

With ``on_bad_video='skip'`` a dataset
(:class:`~tsm_plugin.datasets.bad_videos.BadVideoPolicy`) replaces a sample
whose video cannot be used and logs each bad file once. This hook reports
the count per epoch (all dataloader workers together), so a run that
quietly trains on a shrinking dataset shows it, and records it as the
``train/skipped_videos`` / ``val/skipped_videos`` scalars.
"""
from mmaction.registry import HOOKS
from mmengine.hooks import Hook


def _leaf_datasets(dataset):
    """The dataset and any it wraps (RepeatDataset, ConcatDataset...)."""
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


@HOOKS.register_module()
class SkippedVideosHook(Hook):
    """Per epoch: samples replaced for unusable videos, and distinct files.
    """

    priority = 'BELOW_NORMAL'

    def _report(self, runner, dataloader, mode: str) -> None:
        if dataloader is None:
            return
        skipped, bad = 0, 0
        for ds in _leaf_datasets(dataloader.dataset):
            if hasattr(ds, 'pop_skip_count'):
                skipped += ds.pop_skip_count()
                bad += len(ds.bad_indices())
        if skipped:
            runner.logger.warning(
                f'{mode} epoch {runner.epoch + (mode == "train")}: '
                f'{skipped} samples replaced because their video cannot be '
                f'used ({bad} distinct bad files so far, each logged once '
                'above; tools/preflight.py lists them all)')

    def after_train_epoch(self, runner) -> None:
        self._report(runner, runner.train_dataloader, 'train')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._report(runner, runner.val_loop.dataloader
                     if runner.val_loop is not None else None, 'val')
