# SGD + cosine annealing over 50 epochs, validated every epoch.
# A recipe sets `max_epochs` once; tsm_plugin's tools stretch the schedule.
max_epochs = 50
train_cfg = dict(
    # --resume continues at the exact batch
    type='ResumableEpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=1,
)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    # One warm-up epoch: the new fc and BN statistics settle before full lr.
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True,
    ),
    # Cosine to ~0 over the remaining epochs (FFN: steps at 20/40).
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min=0,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]

optim_wrapper = dict(
    # bf16 autocast where the hardware is fast at it (CUDA bf16, AMX CPUs),
    # fp32 elsewhere; bf16 needs no loss scaling.
    type='AutocastOptimWrapper',
    precision='auto',
    # mmaction2's TSM constructor: fc lr x5 and bias x10, as TSM/FFN train.
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    # TSM repo: gradient clipping at 20 keeps early from-fc-init steps sane.
    clip_grad=dict(max_norm=20, norm_type=2),
)

# lr 0.01 is tuned for a total batch of 32 (FFN: 2 GPUs x 16; ours: 4 x 8).
# Off by default: --auto-scale-lr rescales lr linearly to the real batch.
auto_scale_lr = dict(enable=False, base_batch_size=32)
