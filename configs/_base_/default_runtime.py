# Runtime shared by every recipe: registry scope, plugin import, hooks, env.
default_scope = 'mmaction'
# Importing tsm_plugin fixes the published stack and registers our modules.
custom_imports = dict(imports=['tsm_plugin'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Every epoch, so a preempted run loses at most one epoch; keep the last
    # 3 plus the best top-1 (save_best keeps its own file).
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='acc/top1',
        rule='greater'),
    # Reseeds the distributed sampler every epoch (a new shuffle per epoch).
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

# NaN/inf loss stops the run before that state is saved; SIGTERM/SIGUSR1
# (preemption, time limit) saves iter_N.pth and exits 3 (tools/slurm_train.sh
# requeues); unusable videos replaced per epoch are counted in the log.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='PreemptionHook'),
    dict(type='SkippedVideosHook'),
    # val/test in the training precision (follows optim_wrapper.precision)
    dict(type='EvalAutocastHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    # fork: workers share the parsed annotations; opencv's own threads would
    # fight the dataloader workers for cores.
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; without CUDA tsm_plugin.compat switches to gloo.
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
