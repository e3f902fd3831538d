# FFN's and TSM's published schedule: SGD, lr x0.1 at epochs 20 and 40, 50
# epochs, no warm-up; the optimizer of sgd_cosine_50e.py.
_base_ = ['sgd_cosine_50e.py']

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[20, 40], gamma=0.1)
]
