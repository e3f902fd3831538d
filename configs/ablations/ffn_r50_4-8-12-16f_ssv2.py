# FFN(4) on 4/8/12/16 frames (FFN, https://arxiv.org/abs/2303.14817, Tab. 2:
# 43.40 / 48.66 / 49.77 / 50.63 at 4/8/12/16 frames on SSv1). The loss:
# cross-entropy on 16 frames plus lambda * KL from it to each other count; a
# clip runs the branch of the nearest count.
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

frame_counts = (4, 8, 12, 16)
