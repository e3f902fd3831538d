# TSM-FFN-ResNet50 on Kinetics-400, trained at 4, 8 and 16 frames at once
# (FFN, https://arxiv.org/abs/2303.14817, Tab. 9: 68.96 / 72.33 / 74.35
# top-1). The schedule, batch and lr of tsm_r50_16f_k400.py, so the two
# compare; the paper's step decay is one line away: use
# _base_/schedules/sgd_step_50e.py.
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/ffn_r50.py',
    '_base_/datasets/k400_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

num_frames = 16  # the frame count evaluated by default (the H branch)
# Kinetics-400's classes; ImageNet init (the model base), as FFN's README.
model = dict(cls_head=dict(num_classes=400))
# The FFN repository's exp/tsm_k400_FFN/run.sh: weight decay 1e-4 (5e-4 on
# Something-Something).
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))

# Each training video is sampled at every count of `frame_counts` (4/8/16,
# _base_/models/ffn_r50.py), decoded once and cropped (and flipped) once for
# all 28 frames: tsm_plugin's config loader makes the training pipeline's
# SegmentSampleFrames a MultiCountSampleFrames (utils/config.py).
