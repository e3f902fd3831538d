# TSM fine-tuned 16F -> 4F on the synthetic set: the row of
# configs/baselines/tsm_r50_ft-16to4f_ssv2.py on make demo's recipe. The
# study starts it from the TSM row's checkpoint (init_from).
_base_ = ['tsm.py']

num_frames = 4
# Half the training length, as TSM's fine-tuning recipe (25 of 50 epochs),
# at 1/10 of the lr.
max_epochs = 5
train_cfg = dict(val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.001))
