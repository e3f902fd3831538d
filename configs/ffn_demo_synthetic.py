# FFN on the synthetic set of `make demo`, sized for 2 CPU cores: the demo's
# data, resolution, optimizer, schedule and seed, with the FFN model and
# 16|8|4-frame sampling. Warm-started from make demo's TSM (every BN copied
# into the three branches, adapters at identity): from scratch, 10 epochs
# reach only 85 % at 16 frames (docs/ffn.md, the demo).
_base_ = ['tsm_demo_synthetic.py']

# FFN's L/M/H branches, as the SSv2 recipe's. tsm_plugin's config loader
# carries them into the backbone and, for training, samples each video at
# all three counts, decoded once (MultiCountSampleFrames in place of the TSM
# demo's SegmentSampleFrames; utils/config.py).
frame_counts = (4, 8, 16)
model = dict(
    type='FFNRecognizer',
    # The TSM demo's backbone made multi-branch: its depth 18 from scratch,
    # 1/8 shift, BN updating and num_segments (num_frames = 16, the count
    # evaluated by default, routed to the nearest branch) carry over.
    backbone=dict(
        type='FFNResNet',
        frame_counts=frame_counts,
        train_shift='branch',  # each branch shifts over its own frames
        adapter_init='zeros',  # identity: starts exactly as the TSM
    ),
    # KL(p16 || p8) + KL(p16 || p4), as the SSv2 recipe (FFN Eq. 5).
    distill_loss=dict(type='TemporalDistillationLoss', loss_weight=1.0),
)
# make demo's TSM, its last epoch (tsm_demo_synthetic.py: max_epochs = 10);
# the Makefile's demo-ffn trains it first if absent and compares with it.
load_from = 'work_dirs/tsm_demo_synthetic/epoch_10.pth'
# The TSM demo's lr, with the private parameters (every branch's BNs and
# adapters) at 10x: from the warm start the shared convs already fit 16
# frames, and the 4-frame branch re-maps them only through its own BNs and
# adapters, which at 1x move too little in 8 epochs (docs/ffn.md, the
# demo). Merges with the demo's cls_head 0.1x.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.bn': dict(lr_mult=10.0),
            'adapter': dict(lr_mult=10.0),
        }
    )
)
# 8 epochs, not the TSM demo's 10: make demo-ffn stays within 6 minutes.
max_epochs = 8
# Validated once, after the last epoch: make demo-ffn compares both models
# at every frame count right after (and per-epoch checks cost ~20 s).
train_cfg = dict(val_interval=max_epochs)
