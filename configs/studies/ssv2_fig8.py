# FFN Fig. 8 on SSv2: TSM, TSM-ST and FFN at every frame count from 2 to
# 20 (FFN routes each count to its nearest branch; TSM-ST has a value only
# where a model was trained).
#   python tools/study.py configs/studies/ssv2_fig8.py --data-root DIR
_base_ = ['_base_/ssv2_rows.py']

out_dir = 'work_dirs/studies/ssv2/fig8'
frames = tuple(range(2, 21))
rows = [
    {{_base_.tsm}},
    {{_base_.st4}},
    {{_base_.st8}},
    {{_base_.tsm_st}},
    {{_base_.ffn}},
]
