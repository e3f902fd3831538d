"""Load TSM-repo, FFN-repo and mmaction2 checkpoints where ours load.

:class:`CheckpointFormatHook`, named in ``configs/_base_/default_runtime.py``,
runs when the Runner has read a checkpoint (``load_from``, ``tools/test.py
CONFIG CKPT``, ``tools/eval_tfd.py``) and before it fills the model: it
recognises the format by its keys
(:mod:`tsm_plugin.models.checkpoint_formats`), rewrites the weights in the
model's keys, and logs one line naming the format. A TSM checkpoint loaded
into an FFN model fills every branch (FFN's warm start).
"""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...models.checkpoint_formats import convert, recognise


@HOOKS.register_module()
class CheckpointFormatHook(Hook):
    """Rewrite a loaded checkpoint's weights in the model's keys."""

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Convert ``checkpoint['state_dict']`` in place.

        Args:
            runner (Runner): The runner loading the checkpoint.
            checkpoint (dict): The checkpoint as read from the file.
        """
        state = checkpoint.get('state_dict', checkpoint)
        if not isinstance(state, dict) or not state:
            return
        model = (
            runner.model.module
            if is_model_wrapper(runner.model)
            else runner.model
        )
        fmt = recognise(state)
        ffn_model = (
            getattr(getattr(model, 'backbone', None), 'frame_counts', None)
            is not None
        )
        single_into_ffn = (
            fmt == 'ours'
            and ffn_model
            and not any('.bn1.0.' in k for k in state)
        )
        if fmt == 'ours' and not single_into_ffn:
            return
        converted, missing, unused = convert(state, model, fmt)
        what = (
            'a single-branch TSM, every BN copied into each branch'
            if single_into_ffn
            else fmt
        )
        runner.logger.info(
            f'Checkpoint format: {what}; {len(converted)} tensors mapped to '
            f'{type(model).__name__}, {len(missing)} left at their init, '
            f'{len(unused)} unused'
        )
        checkpoint['state_dict'] = converted
