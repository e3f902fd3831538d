"""Say when training waits for data, and what to do about it.

Decoding SSv2's .webm is the wall of this job: a core decodes ~36 clips/s
for the recipe's pipeline, so a GPU outruns any dataloader that has too few
cores. :class:`DataWaitHook` turns the timings ``IterTimerHook`` already
records in the message hub (``data_time``: waiting for the batch; ``time``:
the whole iteration) into two scalars of the training log, over the last
logging window:

* ``data_wait``: the share of the time spent waiting for data (0-1);
* ``clips_per_s``: clips trained per second, all processes together.

When ``data_wait`` exceeds ``threshold`` (20 %) in a window past the warm-up
at the start of each epoch (workers starting, prefetch filling), it warns
once per run, naming the cause and the fix: more dataloader workers, more
CPU cores, a format that is faster to decode (``tools/prepare_ssv2.py``).

Config (``default_hooks`` of ``configs/_base_/default_runtime.py``)::

    data_wait=dict(type='DataWaitHook')
"""

from typing import Optional

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.dist import get_world_size
from mmengine.hooks import Hook, LoggerHook

from ...utils.workers import available_cores, local_processes

#: IterTimerHook's message-hub keys (mmengine 0.10.7).
TIME, DATA_TIME = 'train/time', 'train/data_time'


def batch_size(data_batch) -> int:
    """Clips in a batch (``inputs`` as a list of clips or one tensor)."""
    inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
    if isinstance(inputs, torch.Tensor):
        return inputs.shape[0]
    if isinstance(inputs, (list, tuple)):
        return len(inputs)
    return 0


@HOOKS.register_module()
class DataWaitHook(Hook):
    """Log the data-wait share and clips/s; warn once when data-bound.

    Args:
        threshold (float): Warn when the data-wait share of a window exceeds
            this. Defaults to 0.2.
        window (int, optional): Iterations per window. None (default): the
            ``LoggerHook``'s interval, so each log line covers its window.
        warmup (int, optional): Iterations at the start of each epoch not
            judged (the loader starting). None (default): one window.
    """

    # After IterTimerHook (NORMAL) has recorded the times, before LoggerHook
    # (BELOW_NORMAL) writes the line.
    priority = 55

    def __init__(
        self,
        threshold: float = 0.2,
        window: Optional[int] = None,
        warmup: Optional[int] = None,
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.warmup = warmup
        self.warned = False
        self._clips = []
        self._epoch_start = 0

    def before_train(self, runner) -> None:
        """Size the window from the LoggerHook's interval."""
        if self.window is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self.window = loggers[0].interval if loggers else 20
        if self.warmup is None:
            self.warmup = self.window

    def before_train_epoch(self, runner) -> None:
        self._epoch_start = runner.iter
        self._clips = []

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        hub = runner.message_hub
        if TIME not in hub.log_scalars or DATA_TIME not in hub.log_scalars:
            return  # no IterTimerHook
        self._clips = (self._clips + [batch_size(data_batch)])[-self.window :]
        n = len(self._clips)  # iterations of this epoch in the window
        took = float(np.sum(hub.get_scalar(TIME).data[0][-n:]))
        waited = float(np.sum(hub.get_scalar(DATA_TIME).data[0][-n:]))
        if took <= 0:
            return
        share = waited / took
        clips_per_s = sum(self._clips) * get_world_size() / took
        hub.update_scalar('train/data_wait', share)
        hub.update_scalar('train/clips_per_s', clips_per_s)
        done = runner.iter + 1 - self._epoch_start
        if (
            not self.warned
            and share > self.threshold
            and done >= self.warmup + self.window
            and (done - self.warmup) % self.window == 0
        ):
            self.warned = True
            runner.logger.warning(self.advice(runner, share, clips_per_s))

    def advice(self, runner, share: float, clips_per_s: float) -> str:
        """The warning: the measured wait, its cause, the fixes."""
        workers = getattr(runner.train_dataloader, 'num_workers', 0)
        cores, local = available_cores(), local_processes()
        shared = f', shared by {local} processes' if local > 1 else ''
        loaders = (
            f'the {workers} dataloader workers'
            if workers
            else 'loading in the training process (num_workers=0)'
        )
        return (
            f'Data-bound: {share:.0%} of the time of the last {self.window} '
            f'iterations went to waiting for data ({clips_per_s:.1f} '
            f'clips/s): {loaders} cannot keep up with the model. Raise '
            f'train_dataloader.num_workers (now {workers}; this process may '
            f'use {cores} cores{shared}), run on more CPU cores, or convert '
            'the videos once to a format faster to decode '
            '(tools/prepare_data.py SRC DST, then --data-root DST).'
        )


__all__ = ['DataWaitHook', 'batch_size']
