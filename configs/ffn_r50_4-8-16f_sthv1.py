# TSM-FFN-ResNet50 on Something-Something V1, trained at 4, 8 and 16 frames
# at once (FFN, https://arxiv.org/abs/2303.14817, Tab. 1: 42.85 / 48.20 /
# 50.79 top-1). The FFN repo's SSv1 recipe is its SSv2 one, so this is
# ffn_r50_4-8-16f_ssv2.py on SSv1's files: the schedule, batch and lr of
# tsm_r50_16f_sthv1.py, so the two compare.
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/ffn_r50.py',
    '_base_/datasets/sthv1_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

num_frames = 16  # the frame count evaluated by default (the H branch)
model = dict(cls_head=dict(num_classes=174))  # SSv1's classes
# Training samples each video at 4/8/16 frames (frame_counts of
# _base_/models/ffn_r50.py), decoded once: tsm_plugin's config loader makes
# the training SegmentSampleFrames a MultiCountSampleFrames.
