"""Load TSM-repo, FFN-repo and mmaction2 checkpoints where ours load, and
refuse any checkpoint that does not fill the model.

:class:`CheckpointFormatHook`, named in ``configs/_base_/default_runtime.py``,
runs when the Runner has read a checkpoint (``load_from``, ``--resume``,
``tools/test.py CONFIG CKPT``, ``tools/eval_tfd.py``) and before it fills
the model: it recognises the format by its keys
(:mod:`tsm_plugin.models.checkpoint_formats`), rewrites the weights in the
model's keys and logs one line naming the format. A TSM checkpoint loaded
into an FFN model fills every branch (FFN's warm start).

mmengine loads ``load_from`` non-strictly: a checkpoint whose keys do not fit
leaves the model at its random init with a warning, and the evaluation
reports that model's accuracy. Here a checkpoint that leaves a weight
unfilled, carries a weight the model lacks, or holds a tensor of another
shape (class count, depth, FFN branches) or another shift placement is
refused with one line naming the format and the first key that does not fit
(:class:`~tsm_plugin.errors.InputError`: the tools exit 2).

Config::

    # fine-tuning from another class count: the head keeps its init
    default_hooks.checkpoint_format = dict(
        type='CheckpointFormatHook', strict=False)
"""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...models.checkpoint_formats import LoadPlan, plan_load


@HOOKS.register_module()
class CheckpointFormatHook(Hook):
    """Rewrite a loaded checkpoint's weights in the model's keys.

    Args:
        strict (bool): refuse a checkpoint that does not fill the model
            (default). False loads what fits, logs what does not in one
            line and leaves the rest at its init (fine-tuning from a
            checkpoint with another head).
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Convert ``checkpoint['state_dict']`` in place.

        Args:
            runner (Runner): The runner loading the checkpoint.
            checkpoint (dict): The checkpoint as read from the file.

        Raises:
            InputError: with ``strict``, a checkpoint that does not fit.
        """
        model = (
            runner.model.module
            if is_model_wrapper(runner.model)
            else runner.model
        )
        what = getattr(runner, '_load_from', None) or 'checkpoint'
        if self.strict:
            plan = plan_load(checkpoint, model, what)
        else:
            plan = LoadPlan(checkpoint, model)
            problem = plan.misfit()
            if problem:
                runner.logger.warning(
                    f'{what} does not fit the model (strict=False, the rest '
                    f'keeps its init): {problem}'
                )
        runner.logger.info(f'{plan.summary()} ({type(model).__name__})')
        checkpoint['state_dict'] = plan.state_dict
