# Runtime shared by every recipe: registry scope, plugin import, hooks, env.
default_scope = 'mmaction'
# Fixes the pinned stack and registers tsm_plugin's components.
custom_imports = dict(
    imports=['tsm_plugin.registration'], allow_failed_imports=False
)

# Named hooks (a dict, so a recipe adds one without re-listing the others).
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    # Logs data_wait (share of time waiting for data) and clips_per_s per
    # window; warns once when waiting exceeds 20 % (names workers, cores).
    data_wait=dict(type='DataWaitHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, but atomic: a kill mid-save leaves the last
    # checkpoint and last_checkpoint intact. Every epoch, so a preempted run
    # loses at most one; keep the last 3 (preemption saves included) plus
    # the best top-1.
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='acc/top1',
        rule='greater',
    ),
    # Reseeds the distributed sampler every epoch (a new shuffle per epoch).
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    # A NaN/inf loss stops the run before that state is saved.
    non_finite_loss=dict(type='NonFiniteLossHook'),
    # SIGTERM/SIGUSR1 (preemption, time limit): save iter_N.pth, exit 3
    # (tools/slurm_train.sh requeues).
    preemption=dict(type='PreemptionHook'),
    # Samples replaced for unusable videos: a scalar per epoch, a warning.
    skipped_videos=dict(type='SkippedVideosHook'),
    # val/test in the training precision (follows optim_wrapper.precision).
    eval_autocast=dict(type='EvalAutocastHook'),
    # Main-process torch threads = cores the dataloader workers leave free:
    # OpenMP threads spinning on the workers' cores slow training 5-9x.
    thread_policy=dict(type='ThreadPolicyHook'),
    # CPU runs keep freed host memory for the next step (glibc mallopt):
    # otherwise every step faults its activation pages in again.
    heap_reuse=dict(type='HeapReuseHook'),
    # TSM-repo, FFN-repo and mmaction2 checkpoints load where ours do (and a
    # TSM into every branch of an FFN): recognised by their keys. Strict: a
    # checkpoint that does not fill the model fails in one line
    # (strict=False keeps what fits, to fine-tune to another class count).
    checkpoint_format=dict(type='CheckpointFormatHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    # fork: workers share the parsed annotations; opencv's own threads would
    # fight the dataloader workers for cores.
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; without CUDA tsm_plugin.compat switches to gloo.
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
# Train loss/lr/accuracy, val top-1/top-5 and the TFD sweep go to the local
# files (<work_dir>/<timestamp>/vis_data/scalars.json) and to TensorBoard
# event files beside them: `tensorboard --logdir work_dirs`. A resumed run
# writes a new <timestamp> folder whose steps continue the last checkpoint's.
# Weights & Biases offline (clusters; `wandb sync` later) is one more entry:
# dict(type='WandbVisBackend', init_kwargs=dict(mode='offline'))
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
