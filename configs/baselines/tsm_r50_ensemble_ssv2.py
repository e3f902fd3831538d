# TSM-Ensemble (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.1, Tab. 1):
# the TSMs trained at 4, 8 and 16 frames (TSM-ST), averaged. An evaluation
# model, nothing to train: at K frames every member runs on the same K-frame
# clip, so parameters and GFLOPs are the three members' sum (25.6x3 M).
# Evaluate it at any K like any model; it loads its members' checkpoints:
#   tools/eval_tfd.py configs/baselines/tsm_r50_ensemble_ssv2.py none
_base_ = ['../tsm_r50_16f_ssv2.py']

model = dict(
    _delete_=True,
    type='EnsembleRecognizer',
    members=[
        # TSM-ST: one model per count, trained by tools/train.py with
        # --cfg-options num_frames=K --work-dir work_dirs/tsm_r50_<K>f_ssv2
        dict(
            config='configs/tsm_r50_16f_ssv2.py',
            cfg_options=dict(num_frames=k),
            checkpoint=f'work_dirs/tsm_r50_{k}f_ssv2/epoch_50.pth',
        )
        for k in (4, 8, 16)
    ],
    # the mean of the members' softmax probabilities (the paper does not
    # say probabilities or logits; 'logits' averages the raw scores)
    average='prob',
)
