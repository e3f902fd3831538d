# TSM-ResNet50 trained on Something-Something V1 at a fixed 16 frames: the
# TFD baseline (FFN, https://arxiv.org/abs/2303.14817, Tab. 1: 48.55 / 37.36
# / 20.60 top-1 at 16 / 8 / 4 frames). The SSv2 recipe on SSv1's files.
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/tsm_r50.py',
    '_base_/datasets/sthv1_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

# The trained frame count: the backbone's shift, the head's consensus and
# every sampler follow it.
num_frames = 16
model = dict(cls_head=dict(num_classes=174))  # SSv1's classes
