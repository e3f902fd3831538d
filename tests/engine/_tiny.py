"""The tiny real config of the reliability tests: the demo recipe (TSM-R18,
SSv2Dataset on the synthetic set, real VP9 decoding) at 4 frames of 32 px,
batch 2, with the reliability parts switched on (resumable loop and
sampler, preemption, non-finite loss and skipped-video hooks)."""

from tests.helpers import DEMO, PACK, decode_steps, tsm_train_crops

TRAIN_PIPELINE = decode_steps(4) + tsm_train_crops(32, 36) + PACK

RELIABILITY_HOOKS = [
    dict(type='NonFiniteLossHook'),
    dict(type='PreemptionHook'),
    dict(type='SkippedVideosHook'),
]


def tiny_cfg(
    data_root, work_dir, epochs=2, workers=0, batch_size=2, **dataset
):
    """Config dict for Runner.from_cfg (also dumped for tools/train.py)."""
    from mmengine.config import Config

    from tsm_plugin.utils.config import set_num_frames

    cfg = Config.fromfile(DEMO)
    set_num_frames(cfg, 4)
    cfg.work_dir = str(work_dir)
    loader = cfg.train_dataloader
    loader.update(
        batch_size=batch_size,
        num_workers=workers,
        persistent_workers=workers > 0,
        sampler=dict(type='ResumableSampler', shuffle=True),
    )
    loader.dataset.update(
        data_root=str(data_root), pipeline=TRAIN_PIPELINE, **dataset
    )
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=-1
    )
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    # The reliability hooks of the base runtime, without the demo's TFD
    # sweep and the eval precision hook (no evaluation here).
    for name in ('tfd', 'eval_autocast'):
        cfg.default_hooks.pop(name, None)
    assert {h['type'] for h in cfg.default_hooks.values()} >= {
        h['type'] for h in RELIABILITY_HOOKS
    }
    cfg.train_cfg = dict(
        type='ResumableEpochBasedTrainLoop', max_epochs=epochs
    )
    cfg.max_epochs = epochs  # what load_config carries (a dumped copy)
    cfg.param_scheduler = [
        s for s in cfg.param_scheduler if epochs > 1 or s.type == 'LinearLR'
    ]
    for sched in cfg.param_scheduler:  # the schedule spans `epochs`
        sched.end = 1 if sched.type == 'LinearLR' else epochs
        if 'T_max' in sched:
            sched.T_max = epochs - 1
    cfg.randomness = dict(seed=0)
    cfg.visualizer = dict(type='ActionVisualizer', vis_backends=[])
    return cfg
