# TSM-Mixed on the synthetic set: the row of
# configs/baselines/tsm_r50_mixed_ssv2.py on make demo's recipe.
_base_ = ['tsm.py']

train_frame_counts = (16, 4)  # each video at 16 and 4 frames, one decode
model = dict(
    data_preprocessor=dict(
        # rho per iteration (the study sets .50 and .75); lambda ~ Beta(1, 1)
        blending=dict(type='MixedSampling', rho=0.5, alpha=1.0)
    )
)
