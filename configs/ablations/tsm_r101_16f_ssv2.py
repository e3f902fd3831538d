# TSM-ResNet101 at 16 frames (FFN, https://arxiv.org/abs/2303.14817, Tab. 5,
# SSv1 at 4/8/16 frames: ST 40.76 / 46.96 / 49.57, FFN 45.15 / 50.24 / 51.79).
# ST at K: --cfg-options num_frames=K.
_base_ = ['../tsm_r50_16f_ssv2.py']

model = dict(
    backbone=dict(depth=101, pretrained='torchvision://resnet101'),
    cls_head=dict(in_channels=2048),  # ResNet-101's last stage width
)
