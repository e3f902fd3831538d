# TSM-Proportional on the synthetic set: the row of
# configs/baselines/tsm_r50_proportional_ssv2.py on make demo's recipe.
_base_ = ['tsm.py']

train_frame_counts = (16, 4)  # both counts sampled (one decode), one kept
model = dict(
    type='FlexibleRecognizer2D',  # each batch runs at its own frame count
    # varrho = P(16 frames) per iteration (the study sets .50 and .75)
    data_preprocessor=dict(
        blending=dict(type='ProportionalSampling', varrho=0.5)
    ),
)
