# FFN w/o TD (FFN, https://arxiv.org/abs/2303.14817, Sec. 5.4, Tab. 4: -3.24
# / -2.55 / -2.72 at 4/8/16 frames on SSv1): the cross-entropy on every
# branch's prediction, no KL distillation. Weights 1/1/1: the paper states
# none (docs/studies.md, the choices).
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

model = dict(branch_loss='ce', ce_weights=None)  # None: 1.0 per branch
