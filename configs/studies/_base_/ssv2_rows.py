# The rows every SSv2 study shares (imported through _base_), so a model
# trained for one study is reused by the others: they share the work dir.
# The paper's SSv2 figures (FFN Tab. 9) are given where it has them; its
# Tables 1-5 are on SSv1 (docs/studies.md prints them beside).
work_dir = 'work_dirs/studies/ssv2'
protocol = 'efficient'  # FFN's: 1 clip x centre crop
reference = 'FFN'  # the differences are to FFN, as the paper's gains
cost_reference = 'TSM'  # training cost 1.0 = one 16-frame TSM run

_tsm = 'configs/tsm_r50_16f_ssv2.py'
tsm = dict(name='TSM', config=_tsm, paper={4: 31.52, 8: 51.55, 16: 61.02})
# TSM-ST's 4- and 8-frame models (its 16 is the TSM row), not rows of their own
st4 = dict(
    name='ST-4', config=_tsm, cfg_options=dict(num_frames=4), show=False
)
st8 = dict(
    name='ST-8', config=_tsm, cfg_options=dict(num_frames=8), show=False
)
tsm_st = dict(
    name='TSM-ST',
    per_frames={4: 'ST-4', 8: 'ST-8', 16: 'TSM'},
    paper={4: 53.38, 8: 59.29, 16: 61.02},
)
ffn = dict(
    name='FFN',
    config='configs/ffn_r50_4-8-16f_ssv2.py',
    paper={4: 56.07, 8: 61.86, 16: 63.61},
)
