# TSM-ResNet50 (https://arxiv.org/abs/1811.08383): our TSMResNet backbone in
# mmaction2's stock Recognizer2D with its stock TSMHead.
# Frames per clip. A recipe sets `num_frames` once; tsm_plugin's tools carry
# it into the backbone, the head and every sampler (utils/config.py).
num_frames = 16
model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='TSMResNet',
        depth=50,
        num_segments=num_frames,
        shift_div=8,  # 1/8 of the channels shift each way (TSM's default)
        # ImageNet init, as TSM and FFN use. Offline: a local torchvision
        # resnet50 .pth path, e.g. --cfg-options model.backbone.pretrained=...
        pretrained='torchvision://resnet50',
        norm_eval=False,
    ),  # TSM/FFN train with BN updating (no partial BN)
    cls_head=dict(
        type='TSMHead',
        num_classes=174,
        in_channels=2048,
        num_segments=num_frames,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,  # TSM/FFN: dropout 0.5 before the new fc
        init_std=0.001,  # TSM/FFN: the new fc starts near zero
        is_shift=True,
        average_clips='prob',
    ),
    data_preprocessor=dict(
        # channels_last where bf16 is fast (CUDA bf16, AMX CPUs): the fast
        # layout for tensor cores / AMX; our shift keeps it through blocks.
        type='ChannelsLastActionDataPreprocessor',
        channels_last='auto',
        # ImageNet statistics, matching the torchvision init.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW',
    ),
    train_cfg=None,
    test_cfg=None,
)
