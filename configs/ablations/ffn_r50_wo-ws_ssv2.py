# FFN w/o WS (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.4, Tab. 4: -1.34
# / -1.04 / -2.56 at 4/8/16 frames on SSv1): every convolution private to
# its branch (3x the conv parameters). Only weight sharing changes: the
# classifier stays shared, adapters and distillation are kept (the paper
# does not say; docs/studies.md, the choices).
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

model = dict(backbone=dict(weight_sharing=False))
