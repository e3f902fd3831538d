# TSM-ResNet50 trained on SSv2 at a fixed 16 frames: the TFD baseline
# (FFN, https://arxiv.org/abs/2303.14817, Tab. 9: 61.02 top-1 at 16 frames).
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/tsm_r50.py',
    '_base_/datasets/ssv2_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

# 16 frames in the backbone's shift and the head's consensus; the pipelines'
# num_clips (16) come from the dataset base.
model = dict(
    backbone=dict(num_segments=16),
    cls_head=dict(num_segments=16, num_classes=174))
