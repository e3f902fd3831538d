"""Reuse freed host memory between steps of a CPU run (glibc's malloc).

Without it every CPU training step faults its activation pages in afresh;
see :mod:`tsm_plugin.utils.allocator` for the mechanism and the figures.
"""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ...utils.allocator import keep_freed_memory


def _on_cpu(runner) -> bool:
    params = next(iter(runner.model.parameters()), None)
    return params is None or params.device.type == 'cpu'


@HOOKS.register_module()
class HeapReuseHook(Hook):
    """Before the run, if the model is on the CPU, set glibc's malloc to
    keep freed blocks for reuse (:func:`~tsm_plugin.utils.allocator.
    keep_freed_memory`). Dataloader workers forked later inherit it.
    GPU runs and other C libraries are left as they are."""

    priority = 'VERY_HIGH'  # before any step allocates

    def before_run(self, runner) -> None:
        if _on_cpu(runner) and keep_freed_memory():
            runner.logger.info(
                'Heap: freed host memory is kept for reuse (glibc mallopt; '
                'CPU steps fault their pages in once, not every step).'
            )
