# TSM-FFN-ResNet50 on SSv2, trained at 4, 8 and 16 frames at once (FFN,
# https://arxiv.org/abs/2303.14817, Tab. 9: 56.07 / 61.86 / 63.61 top-1).
# The schedule, batch and lr of tsm_r50_16f_ssv2.py, so the two compare; the
# paper's step decay is one line away: use _base_/schedules/sgd_step_50e.py.
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/ffn_r50.py',
    '_base_/datasets/ssv2_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

num_frames = 16  # the frame count evaluated by default (the H branch)
model = dict(cls_head=dict(num_classes=174))  # SSv2's classes

# Each training video is sampled at every count of `frame_counts` (4/8/16,
# _base_/models/ffn_r50.py; independent TSN draws, as the official code),
# decoded once and cropped once for all 28 frames: because the config sets
# frame_counts, tsm_plugin's config loader makes the training pipeline's
# SegmentSampleFrames a MultiCountSampleFrames (utils/config.py). The test
# pipeline samples num_frames.
