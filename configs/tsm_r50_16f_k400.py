# TSM-ResNet50 trained on Kinetics-400 at a fixed 16 frames: the TFD
# baseline (FFN, https://arxiv.org/abs/2303.14817, Tab. 9: 73.16 top-1 at
# 16 frames, 69.77 at 8, 64.10 at 4).
_base_ = [
    '_base_/default_runtime.py',
    '_base_/models/tsm_r50.py',
    '_base_/datasets/k400_16f.py',
    '_base_/schedules/sgd_cosine_50e.py',
]

# The trained frame count: the backbone's shift, the head's consensus and
# every sampler follow it.
num_frames = 16
# Kinetics-400's classes; ImageNet init (the model base), as FFN's README.
model = dict(cls_head=dict(num_classes=400))
# The FFN repository's exp/tsm_k400/run.sh: weight decay 1e-4 (5e-4 on
# Something-Something); lr, batch, clipping and dropout as the SSv2 recipe.
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
