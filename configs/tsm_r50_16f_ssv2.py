# TSM-ResNet50 trained on SSv2 at a fixed 16 frames: the TFD baseline
# (FFN, https://arxiv.org/abs/2303.14817, Tab. 9: 61.02 top-1 at 16 frames).
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/tsm_r50.py',
    '_base_/datasets/ssv2_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

# The trained frame count: the backbone's shift, the head's consensus and
# every sampler follow it.
num_frames = 16
model = dict(cls_head=dict(num_classes=174))  # SSv2's classes
