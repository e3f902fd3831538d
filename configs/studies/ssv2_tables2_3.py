# FFN Tables 2 and 3 on SSv2: FFN trained on 2, 3 and 4 frame counts (4/16,
# 4/8/16, 4/8/12/16, 4/8/16/24) against TSM-ST, at 4/8/12/16/24 frames.
#   python tools/study.py configs/studies/ssv2_tables2_3.py --data-root DIR
_base_ = ['_base_/ssv2_rows.py']

out_dir = 'work_dirs/studies/ssv2/tables2_3'
frames = (4, 8, 12, 16, 24)
_a = 'configs/ablations/'
_tsm = 'configs/tsm_r50_16f_ssv2.py'
rows = [
    dict(name='FFN 4/16', config=_a + 'ffn_r50_4-16f_ssv2.py'),
    {{_base_.ffn}},
    dict(name='FFN 4/8/12/16', config=_a + 'ffn_r50_4-8-12-16f_ssv2.py'),
    dict(name='FFN 4/8/16/24', config=_a + 'ffn_r50_4-8-16-24f_ssv2.py'),
    {{_base_.tsm}},
    {{_base_.st4}},
    {{_base_.st8}},
    dict(
        name='ST-12', config=_tsm, cfg_options=dict(num_frames=12), show=False
    ),
    dict(
        name='ST-24', config=_tsm, cfg_options=dict(num_frames=24), show=False
    ),
    dict(
        name='TSM-ST',
        per_frames={4: 'ST-4', 8: 'ST-8', 12: 'ST-12', 16: 'TSM', 24: 'ST-24'},
    ),
]
