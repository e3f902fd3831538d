"""The ``disk`` check: the work dir can hold the checkpoints the config keeps.

The size of one checkpoint is estimated from the built model (parameters
and buffers) and the config's optimizer (its per-parameter state, e.g. SGD
momentum one copy of the trainable parameters, Adam two); the count from
the checkpoint hook (``max_keep_ckpts``, ``save_best``, the save in
progress; see :mod:`tsm_plugin.utils.disk_space`). The free space is that
of the work dir's filesystem (its nearest existing folder).
"""

import os.path as osp
from typing import List

from ...utils import disk_space
from .context import Context
from .rows import Row, Skip, Status

NAME = 'disk'


def _hook_types(cfg) -> List[str]:
    hooks = list((cfg.get('default_hooks') or {}).values())
    hooks += list(cfg.get('custom_hooks') or [])
    return [str(h.get('type', '')) for h in hooks if h]


def space_need(ctx: Context, model) -> disk_space.SpaceNeed:
    """What the config's checkpoints of ``model`` need at the fullest."""
    cfg = ctx.cfg
    checkpoint = cfg.default_hooks.checkpoint
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer')
    sizes = disk_space.checkpoint_sizes(model, optimizer or dict(type='?'))
    train = cfg.get('train_cfg') or {}
    by_epoch = checkpoint.get('by_epoch', True)
    saves = disk_space.saves_in_run(
        train.get('max_epochs' if by_epoch else 'max_iters', 1),
        checkpoint.get('interval', -1),
        checkpoint.get('save_last', True),
    )
    types = _hook_types(cfg)
    apart = 'PreemptionHook' in types and 'AtomicCheckpointHook' not in types
    return disk_space.checkpoint_space(sizes, checkpoint, saves, apart)


def check_disk(ctx: Context) -> List[Row]:
    """The work dir's free space holds the config's checkpoints."""
    checkpoint = (ctx.cfg.get('default_hooks') or {}).get('checkpoint')
    if not checkpoint:
        return [Row(NAME, Status.SKIP, 'no checkpoint hook configured')]
    model = ctx.require('model', 'no model')
    out_dir = ctx.work_dir
    if checkpoint.get('out_dir'):  # mmengine adds the work dir's name
        out_dir = checkpoint.out_dir
        if '://' in str(out_dir):
            raise Skip(f'checkpoints go to {out_dir}, not a local folder')
        out_dir = osp.join(out_dir, osp.basename(osp.abspath(ctx.work_dir)))
    enough, text = disk_space.space_report(
        space_need(ctx, model), osp.abspath(out_dir)
    )
    return [Row(NAME, Status.PASS if enough else Status.FAIL, text)]
