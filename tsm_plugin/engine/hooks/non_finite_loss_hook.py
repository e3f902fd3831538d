"""Stop at the first NaN/inf loss, before that state reaches a checkpoint.

A diverged run keeps "training" on NaN weights and overwrites good
checkpoints with them. :class:`NonFiniteLossHook` checks the loss after
every iteration, ahead of every hook that saves (its priority is above
``CheckpointHook`` and ``PreemptionHook``), and stops with
:class:`NonFiniteLossError`, which names the iteration and the last good
checkpoint. The step that produced the NaN has already updated the weights
in memory; nothing of it is written.
"""

import math

from mmaction.registry import HOOKS
from mmengine.hooks import Hook


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` on a non-finite training loss.

    Args:
        keys (tuple[str]): Loss entries of the model's outputs to check.
            Defaults to ``('loss', )`` (the total loss).
    """

    priority = 'ABOVE_NORMAL'  # before any hook that saves or logs

    def __init__(self, keys=('loss',)):
        self.keys = tuple(keys)

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
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
            last = runner.message_hub.get_info('last_ckpt')
            kept = (
                f'the last good checkpoint, {last}, is intact'
                if last
                else 'no checkpoint was saved yet'
            )
            raise NonFiniteLossError(
                f'{key} is {value} at iteration {runner.iter + 1} (epoch '
                f'{runner.epoch + 1}, batch {batch_idx + 1}/'
                f'{len(runner.train_dataloader)}); stopped before saving '
                f'it: {kept}. Lower the lr or check the data, then --resume.'
            )
