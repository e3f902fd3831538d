# FFN Table 1 on SSv2: TSM, its four baselines (Mixed, Proportional,
# fine-tuning, Ensemble), TSM-ST and FFN at 4/8/16 frames.
#   python tools/study.py configs/studies/ssv2_table1.py --data-root DIR
_base_ = ['_base_/ssv2_rows.py']

out_dir = 'work_dirs/studies/ssv2/table1'
frames = (4, 8, 16)
_b = 'configs/baselines/'
rows = [
    {{_base_.tsm}},
    {{_base_.st4}},
    {{_base_.st8}},
    {{_base_.tsm_st}},
    dict(name='TSM-Ensemble', ensemble=['ST-4', 'ST-8', 'TSM']),
    dict(name='TSM-Mixed .50', config=_b + 'tsm_r50_mixed_ssv2.py'),
    dict(
        name='TSM-Mixed .75',
        config=_b + 'tsm_r50_mixed_ssv2.py',
        cfg_options={'model.data_preprocessor.blending.rho': 0.75},
    ),
    dict(name='TSM-Prop .50', config=_b + 'tsm_r50_proportional_ssv2.py'),
    dict(
        name='TSM-Prop .75',
        config=_b + 'tsm_r50_proportional_ssv2.py',
        cfg_options={'model.data_preprocessor.blending.varrho': 0.75},
    ),
    dict(
        name='TSM-FT 16F-4F',
        config=_b + 'tsm_r50_ft-16to4f_ssv2.py',
        init_from='TSM',
    ),
    {{_base_.ffn}},
]
