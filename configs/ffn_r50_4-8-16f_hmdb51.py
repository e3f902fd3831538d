# TSM-FFN-ResNet50 on HMDB51 (official split 1 by default), trained at 4, 8
# and 16 frames at once (FFN, https://arxiv.org/abs/2303.14817, Tab. 9:
# 45.67 / 47.67 / 48.80 top-1). The schedule, batch and lr of
# tsm_r50_16f_hmdb51.py, so the two compare.
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/ffn_r50.py',
    '_base_/datasets/hmdb51_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

num_frames = 16  # the frame count evaluated by default (the H branch)
# HMDB51's classes. ImageNet init (the model base): the FFN repository ships
# no HMDB51 recipe, and its figures are at the level of ImageNet-initialised
# models.
model = dict(cls_head=dict(num_classes=51))

# Each training video is sampled at every count of `frame_counts` (4/8/16,
# _base_/models/ffn_r50.py), decoded once and cropped (and flipped) once for
# all 28 frames: tsm_plugin's config loader makes the training pipeline's
# SegmentSampleFrames a MultiCountSampleFrames (utils/config.py).
