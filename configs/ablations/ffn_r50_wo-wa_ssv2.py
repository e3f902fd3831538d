# FFN w/o WA (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.4, Tab. 4: -0.94
# / -0.28 / -0.95 at 4/8/16 frames on SSv1): no Weight-Alteration adapters;
# private BNs, shared convs and distillation kept.
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

model = dict(backbone=dict(adapters=False))
