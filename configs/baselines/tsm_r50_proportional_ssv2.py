# TSM-Proportional (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.1, Tab.
# 1): each iteration's batch is 16 frames with probability varrho, else 4
# frames (every clip of the batch at one count; 8 is never trained). The
# schedule, batch, lr and epochs of tsm_r50_16f_ssv2.py (the paper does not
# say whether it kept the iteration count; we do). varrho = .75:
#   --cfg-options model.data_preprocessor.blending.varrho=0.75
_base_ = ['../tsm_r50_16f_ssv2.py']

# Both counts sampled per video (one decode); the blending keeps one.
train_frame_counts = (16, 4)
model = dict(
    # runs each training batch at its own frame count (shift and consensus)
    type='FlexibleRecognizer2D',
    data_preprocessor=dict(
        blending=dict(
            type='ProportionalSampling',
            varrho=0.5,  # P(16 frames); Tab. 1's first setting (.50, .75)
        )
    ),
)
