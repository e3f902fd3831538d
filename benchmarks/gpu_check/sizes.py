"""What the check measures on: the recipe, and the full and dry-run sizes."""

import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = 'configs/tsm_r50_16f_ssv2.py'
VIDEO_DIR = '20bn-something-something-v2'
#: Full sizes (the recipe's) and the dry run's (seconds on a CPU).
SIZES = dict(
    full=dict(
        budget_s=480,
        step_config=RECIPE,
        frames=16,
        size=224,
        batch=None,  # the recipe's (8 clips per GPU)
        warmup=3,
        iters=10,
        threads=None,  # torch's default: all cores
        # Over the data mode's SSv2-sized videos (240p VP9, 12 fps, 2-6 s,
        # textured): 8 classes x 15 = 120 clips, 15 iterations of 8.
        videos=dict(num_train_per_class=15, num_val_per_class=1),
        workers=(4, 8, 15),
        loader_seconds=5.0,
        train_iters=30,
        train_warmup=5,  # first iterations: worker start-up, cuDNN
        train_options=(),
        train_crop=None,  # the recipe's 224
        ffn_flags=(),
        log_interval=5,
    ),
    dry=dict(
        budget_s=240,
        # ResNet-18 at 42x32 (the demo's model): the step's code path, fast.
        step_config='configs/tsm_demo_synthetic.py',
        frames=2,
        size=32,
        batch=1,
        warmup=0,
        iters=1,
        # One thread: a tiny model gains nothing from more, and on a busy
        # machine (tests in parallel) spinning OpenMP threads cost 10x.
        threads=1,
        videos=dict(
            height=32,
            width=42,
            fps=12,
            min_seconds=1.0,
            max_seconds=1.5,
            textured=False,
            num_train_per_class=1,
            num_val_per_class=1,
            num_test_per_class=0,
            seed=0,
        ),
        workers=(1, 2),
        loader_seconds=0.2,
        train_iters=2,
        train_warmup=0,
        train_options=(
            'num_frames=2',
            'model.backbone.depth=18',
            'model.cls_head.in_channels=512',
            'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=1',
        ),
        train_crop=64,
        ffn_flags=('--depth', '18'),
        log_interval=1,
    ),
)
