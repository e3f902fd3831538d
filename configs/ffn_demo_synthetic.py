# FFN on the synthetic set of `make demo`, sized for 2 CPU cores: the demo's
# data, resolution, optimizer and seed, with the FFN model and 16|8|4-frame
# sampling. Warm-started from make demo's TSM (every BN copied into the
# three branches, adapters at identity), so it fine-tunes rather than
# learns from scratch.
_base_ = ['tsm_demo_synthetic.py']

model = dict(
    type='FFNRecognizer',
    backbone=dict(
        _delete_=True,
        type='FFNResNet',
        depth=18,
        frame_counts=(4, 8, 16),
        num_segments=16,  # evaluated at 16 frames unless told otherwise
        train_shift='branch',
        adapter_init='zeros',  # identity: starts exactly as the TSM
        pretrained=None,
    ),
    distill_loss=dict(type='TemporalDistillationLoss', loss_weight=1.0),
)
load_from = 'work_dirs/tsm_demo_synthetic/epoch_10.pth'  # make demo's TSM
# A fine-tune: the shared convs move slowly (they serve the 16-frame branch
# already), the private BNs and adapters learn at the full lr.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'cls_head': dict(lr_mult=0.1),
            '.conv': dict(lr_mult=0.1),
        }
    )
)

train_pipeline = [
    dict(type='MultiCountSampleFrames', frame_counts=(16, 8, 4))
    if t['type'] == 'SegmentSampleFrames'
    else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_epochs = 3  # a fine-tune of the 16-frame TSM: ~2 min on 2 cores
