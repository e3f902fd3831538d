"""Stop at the first NaN/inf loss, before that state reaches a checkpoint.

A diverged run keeps "training" on NaN weights and overwrites good
checkpoints with them. :class:`NonFiniteLossHook` checks the loss after
every iteration, ahead of every hook that saves (its priority is above
``CheckpointHook`` and ``PreemptionHook``), and stops with
:class:`NonFiniteLossError`, which names the iteration and the last good
checkpoint. The step that produced the NaN has already updated the weights
in memory; nothing of it is written.

Under fp16 (:class:`~tsm_plugin.engine.optim_wrapper.AutocastOptimWrapper`
with a loss scaler) gradients overflow now and then while the loss is
finite: the scaler skips that step and lowers its scale, and this hook lets
it pass. Only when every step overflows, at every scale the scaler tries
(``max_skipped_steps`` in a row), does it stop the run: the weights no
longer change.
"""

import math

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ..optim_wrapper import SKIPPED_IN_A_ROW


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` on a non-finite training loss.

    Args:
        keys (tuple[str]): Loss entries of the model's outputs to check.
            Defaults to ``('loss', )`` (the total loss).
        max_skipped_steps (int, optional): fp16 steps the loss scaler may
            skip in a row (non-finite gradients) before the run stops; a
            dynamic scaler halves its scale per skip, so 30 skips take it
            from 2**16 to 2**-14, past any gradient fp16 can hold. None:
            never stop for skips. Defaults to 30.
    """

    priority = 'ABOVE_NORMAL'  # before any hook that saves or logs

    def __init__(self, keys=('loss',), max_skipped_steps=30):
        self.keys = tuple(keys)
        self.max_skipped_steps = max_skipped_steps

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        self._check_skipped_steps(runner, batch_idx)
        if not outputs:
            return
        for key in self.keys:
            if key not in outputs:
                continue
            value = outputs[key]  # a scalar; LoggerHook syncs it anyway
            value = float(
                value.detach() if hasattr(value, 'detach') else value
            )
            if math.isfinite(value):
                continue
            raise NonFiniteLossError(
                f'{key} is {value} at {_where(runner, batch_idx)}; stopped '
                f'before saving it: {_kept(runner)}. Lower the lr or check '
                'the data, then --resume.'
            )

    def _check_skipped_steps(self, runner, batch_idx: int) -> None:
        """Stop when the fp16 loss scaler skipped too many steps in a row."""
        skipped = runner.message_hub.get_info(SKIPPED_IN_A_ROW) or 0
        if self.max_skipped_steps is None or skipped < self.max_skipped_steps:
            return
        raise NonFiniteLossError(
            f'fp16: the gradients were non-finite in the last {skipped} '
            f'steps, at every loss scale down to '
            f'{runner.optim_wrapper.loss_scaler.get_scale():.3g}, up to '
            f'{_where(runner, batch_idx)} (the loss stayed finite; the '
            f'weights no longer change): {_kept(runner)}. Try '
            "precision='fp32' or a lower lr, then --resume."
        )


def _where(runner, batch_idx: int) -> str:
    return (
        f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch '
        f'{batch_idx + 1}/{len(runner.train_dataloader)})'
    )


def _kept(runner) -> str:
    last = runner.message_hub.get_info('last_ckpt')
    if last:
        return f'the last good checkpoint, {last}, is intact'
    return 'no checkpoint was saved yet'
