# FFN Table 5 on SSv2: TSM-ST and FFN at ResNet-18 and ResNet-101, at
# 4/8/16 frames (R50: ssv2_table1.py).
#   python tools/study.py configs/studies/ssv2_table5.py --data-root DIR
_base_ = ['_base_/ssv2_rows.py']

out_dir = 'work_dirs/studies/ssv2/table5'
frames = (4, 8, 16)
reference = 'FFN R101'
cost_reference = 'TSM R18'
_a = 'configs/ablations/'
rows = []
for _d in (18, 101):
    _tsm = f'{_a}tsm_r{_d}_16f_ssv2.py'
    rows += [
        dict(name=f'TSM R{_d}', config=_tsm, show=False),
        dict(
            name=f'ST-4 R{_d}',
            config=_tsm,
            cfg_options=dict(num_frames=4),
            show=False,
        ),
        dict(
            name=f'ST-8 R{_d}',
            config=_tsm,
            cfg_options=dict(num_frames=8),
            show=False,
        ),
        dict(
            name=f'TSM-ST R{_d}',
            per_frames={4: f'ST-4 R{_d}', 8: f'ST-8 R{_d}', 16: f'TSM R{_d}'},
        ),
        dict(name=f'FFN R{_d}', config=f'{_a}ffn_r{_d}_4-8-16f_ssv2.py'),
    ]
