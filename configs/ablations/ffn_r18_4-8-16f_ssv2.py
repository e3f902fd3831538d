# FFN-ResNet18 at 4/8/16 frames (FFN, https://arxiv.org/abs/2303.14817,
# Tab. 5, SSv1 at 4/8/16 frames:
# ST 32.33 / 38.21 / 42.95, FFN 36.83 / 41.61 / 43.57).
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

model = dict(
    backbone=dict(depth=18, pretrained='torchvision://resnet18'),
    cls_head=dict(in_channels=512),  # ResNet-18's last stage width
)
