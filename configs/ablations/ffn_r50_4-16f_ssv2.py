# FFN(2) on 4 and 16 frames (FFN, https://arxiv.org/abs/2303.14817, Tab. 2:
# 41.69 / 37.93 / 48.10 / 49.79 at 4/8/12/16 frames on SSv1: without a
# middle count, 8 frames collapse). The loss: cross-entropy on 16 frames
# plus lambda * KL from it to 4; a clip runs the branch of the nearest count.
_base_ = ['../ffn_r50_4-8-16f_ssv2.py']

frame_counts = (4, 16)
