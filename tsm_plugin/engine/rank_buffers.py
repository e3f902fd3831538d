"""Every rank's buffers in a mid-epoch checkpoint, each rank's back on resume.

Without SyncBN each rank keeps its own BatchNorm running statistics; mmengine
averages them only at the end of an epoch (``SyncBuffersHook``). A checkpoint
saved inside an epoch (``iter_N.pth``: a preemption, an iteration interval)
held rank 0's alone, so a resumed rank 1 restarted from rank 0's statistics
and the epoch's average differed from the run that never stopped (the
parameters did not: training-mode BatchNorm uses the batch's statistics).

:func:`gather_rank_buffers` collects each rank's buffers (a collective: every
rank calls it at the same save); :func:`restore_rank_buffers` puts this
rank's into the checkpoint's ``state_dict`` before the Runner loads it, so a
resumed run continues with the statistics each rank had: its weights, buffers
included, equal those of a run that never stopped. A checkpoint from another
world size keeps rank 0's, as before, with one warning.
"""

from typing import List, Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

#: ``checkpoint['meta']`` key of the per-rank buffers (a list by rank).
META_KEY = 'rank_buffers'


def _unwrapped(model):
    return model.module if is_model_wrapper(model) else model


def gather_rank_buffers(model) -> Optional[List[dict]]:
    """Every rank's ``{name: buffer}`` (CPU), by rank; None on one process.

    A collective: every rank must call it at the same point.
    """
    if get_world_size() == 1:
        return None
    model = _unwrapped(model)
    saved = model.state_dict(keep_vars=True)  # persistent buffers only
    own = {
        name: buf.detach().cpu().clone()
        for name, buf in model.named_buffers()
        if name in saved
    }
    return all_gather_object(own)


def restore_rank_buffers(checkpoint: dict) -> None:
    """Put this rank's saved buffers into ``checkpoint['state_dict']``."""
    by_rank = checkpoint.get('meta', {}).get(META_KEY)
    if not by_rank:
        return
    if len(by_rank) != get_world_size():
        print_log(
            f'the checkpoint holds the buffers of {len(by_rank)} ranks, this '
            f"run has {get_world_size()}: every rank starts from rank 0's "
            'BatchNorm statistics',
            logger='current',
            level=30,
        )
        return
    state = checkpoint['state_dict']
    for name, value in by_rank[get_rank()].items():
        if name in state:
            state[name] = value
