# FFN w/o SN (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.4, Tab. 4: -7.06
# / -1.40 / -6.17 at 4/8/16 frames on SSv1): one set of BatchNorms for all
# branches; Weight Sharing, Temporal Distillation and the adapters kept.
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

model = dict(backbone=dict(shared_bn=True))
