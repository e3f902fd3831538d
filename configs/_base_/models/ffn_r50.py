# Frame Flexible Network (FFN, https://arxiv.org/abs/2303.14817) on the
# TSM-ResNet50 of tsm_r50.py: the same head and preprocessor; the backbone's
# convs are shared by the 4/8/16-frame branches, its BatchNorms and residual
# depthwise adapters are private per branch.
_base_ = ['tsm_r50.py']

model = dict(
    type='FFNRecognizer',
    backbone=dict(
        _delete_=True,
        type='FFNResNet',
        depth=50,
        frame_counts=(4, 8, 16),  # the L/M/H branches of the paper
        # The evaluated frame count (routed to the nearest branch, ties to
        # the larger); tools/test.py --num-frames and the TFD sweep set it.
        num_segments=16,
        shift_div=8,  # 1/8 of the channels shift each way, as TSM
        # Each branch shifts over its own frames (the paper); 'official' is
        # the released code's 16-frame shift for every branch (FFN-pytorch#3).
        train_shift='branch',
        # Zero adapters: each branch starts exactly as the network it loads
        # (ImageNet or a TSM); the released code's init is 'official'.
        adapter_init='zeros',
        # ImageNet init, every BN copied into all branches (as FFN).
        pretrained='torchvision://resnet50',
        norm_eval=False,
    ),
    # KL(p16 || p8) + KL(p16 || p4), teacher detached, lambda 1 (FFN Eq. 5).
    distill_loss=dict(type='TemporalDistillationLoss', loss_weight=1.0),
)
