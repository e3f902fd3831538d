# FFN Table 4 on SSv2: FFN less one part each (w/o SN, TD, WA, WS), beside
# FFN and TSM-ST, at 4/8/16 frames.
#   python tools/study.py configs/studies/ssv2_table4.py --data-root DIR
_base_ = ['_base_/ssv2_rows.py']

out_dir = 'work_dirs/studies/ssv2/table4'
frames = (4, 8, 16)
_a = 'configs/ablations/'
rows = [
    {{_base_.ffn}},
    dict(name='FFN w/o SN', config=_a + 'ffn_r50_wo-sn_ssv2.py'),
    dict(name='FFN w/o TD', config=_a + 'ffn_r50_wo-td_ssv2.py'),
    dict(name='FFN w/o WA', config=_a + 'ffn_r50_wo-wa_ssv2.py'),
    dict(name='FFN w/o WS', config=_a + 'ffn_r50_wo-ws_ssv2.py'),
    {{_base_.tsm}},
    {{_base_.st4}},
    {{_base_.st8}},
    {{_base_.tsm_st}},
]
