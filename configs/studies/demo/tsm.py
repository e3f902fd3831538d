# A TSM row of the synthetic study (make study): make demo's recipe
# (tsm_demo_synthetic.py: data, ResNet-18 from scratch, 10 epochs, seed 0),
# trained at num_frames (16; ST rows override it).
_base_ = ['../../tsm_demo_synthetic.py']

# The study evaluates every row itself, at every count: no sweep after
# training, and one validation at the end instead of one per epoch.
default_hooks = dict(tfd=None)
train_cfg = dict(val_interval=10)
