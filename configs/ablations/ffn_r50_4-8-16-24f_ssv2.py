# FFN on 4/8/16/24 frames (FFN, https://arxiv.org/abs/2303.14817, Tab. 3:
# 41.28 / 46.72 / 49.79 / 49.95 at 4/8/16/24 frames on SSv1, against ST's
# 39.71 / 45.63 / 48.55 / 47.90). The loss: cross-entropy on 24 frames plus
# lambda * KL from it to each other count; a clip runs the branch of the
# nearest count.
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

frame_counts = (4, 8, 16, 24)
