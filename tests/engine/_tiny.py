"""The tiny real config of the reliability tests: the tests' tiny demo
config (TSM-R18, SSv2Dataset on the synthetic set, real VP9 decoding) at 4
frames of 32 px, batch 2, with the reliability parts switched on (resumable
loop and sampler, atomic checkpoints of every epoch, preemption, non-finite
loss and skipped-video hooks)."""

from tests.helpers import PACK, decode_steps, tiny_cfg, tsm_train_crops

TRAIN_PIPELINE = decode_steps(4) + tsm_train_crops(32, 36) + PACK

RELIABILITY_HOOKS = [
    dict(type='NonFiniteLossHook'),
    dict(type='PreemptionHook'),
    dict(type='SkippedVideosHook'),
]


def reliability_cfg(
    data_root, work_dir, epochs=2, workers=0, batch_size=2, **dataset
):
    """Config dict for Runner.from_cfg (also dumped for tools/train.py)."""
    cfg = tiny_cfg(
        data_root,
        work_dir,
        frames=4,
        epochs=epochs,
        batch_size=batch_size,
        workers=workers,
        pipeline=TRAIN_PIPELINE,
        **dataset,
    )
    cfg.train_dataloader.update(
        persistent_workers=workers > 0,
        sampler=dict(type='ResumableSampler', shuffle=True),
    )
    cfg.train_cfg.type = 'ResumableEpochBasedTrainLoop'
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=-1
    )
    # The reliability hooks of the base runtime, without the demo's TFD
    # sweep and the eval precision hook (no evaluation here).
    for name in ('tfd', 'eval_autocast'):
        cfg.default_hooks.pop(name, None)
    assert {h['type'] for h in cfg.default_hooks.values()} >= {
        h['type'] for h in RELIABILITY_HOOKS
    }
    cfg.visualizer = dict(type='ActionVisualizer', vis_backends=[])
    return cfg
