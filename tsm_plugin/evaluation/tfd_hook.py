"""Run the TFD sweep after training and log it.

Temporal Frequency Deviation (FFN, https://arxiv.org/abs/2303.14817): the
model just trained, evaluated at several frame counts with the config's
test protocol. Off in the SSv2 recipe (a sweep of the SSv2 validation set
costs about 2.5 evaluations of it); on in the demo.
"""

import os.path as osp
from typing import Sequence

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..utils.config import check_frame_counts
from .report import log_to_visualizer, report_markdown, write_report
from .sweep import sweep_model


@HOOKS.register_module()
class TFDEvalHook(Hook):
    """After training, evaluate the final weights at several frame counts.

    Uses the model in memory (no checkpoint reload), the config's test
    dataloader, pipeline and evaluator (validation ones if there is no test
    split), with each video decoded once for all frame counts. Logs the
    table (with one clip's GFLOPs and parameters per frame count) and the
    classes that lose most, adds the sweep to the visualizer
    (:func:`~.report.log_to_visualizer`: ``tfd/top1_<T>f`` scalars, the
    ``tfd_curve/*`` curves, the plots; TensorBoard where configured) and
    writes ``tfd.json``, ``tfd.md``, ``tfd.png``, ``tfd_per_class.csv`` and
    ``tfd_classes.png`` into ``<work_dir>/<out_dir>``.

    Args:
        frames (Sequence[int]): frame counts (a repeat is dropped; swept in
            ascending order). Defaults to (4, 8, 12, 16).
        out_dir (str): folder under the work dir. Defaults to ``'tfd_final'``.
        decode_once (bool): decode each video once for all frame counts.
            Defaults to True.
    """

    priority = 'LOW'  # after the checkpoint hook's own after_train

    def __init__(
        self,
        frames: Sequence[int] = (4, 8, 12, 16),
        out_dir: str = 'tfd_final',
        decode_once: bool = True,
    ):
        self.frames = check_frame_counts(
            frames, 'TFDEvalHook frames', dedupe=True
        )
        self.out_dir = out_dir
        self.decode_once = decode_once
        self.report = None

    def after_train(self, runner) -> None:
        """Sweep the final weights; log, store scalars, write the files.

        Args:
            runner (Runner): The runner of the training process.
        """
        report = sweep_model(
            runner.model,
            runner.cfg,
            self.frames,
            decode_once=self.decode_once,
            logger=runner.logger,
        )
        report['checkpoint'] = None  # the final weights, in memory
        report['epoch'] = runner.epoch
        self.report = report
        runner.logger.info(
            'TFD of the final weights (epoch '
            f'{runner.epoch}):\n' + report_markdown(report)
        )
        log_to_visualizer(runner.visualizer, report, step=runner.iter)
        if is_main_process():
            paths = write_report(
                report, osp.join(runner.work_dir, self.out_dir)
            )
            runner.logger.info(f'TFD plot: {paths["png"]}')
