# The FFN paper's Table 1 (baselines) and Table 4 (ablations) on the
# synthetic SSv2-format set, sized for 2 CPU cores: `make study` (after make
# demo and make demo-ffn, whose checkpoints are its TSM and FFN rows).
# Every row is make demo's recipe (ResNet-18 from scratch, 10 epochs at
# 42x32) or make demo-ffn's (8 epochs from that TSM), changed as the paper's
# row says; docs/study_demo.md has the table measured and the paper's beside.
work_dir = 'work_dirs/study_demo'
frames = (4, 8, 12, 16)
protocol = 'efficient'  # the configs' own: 1 clip, centre crop
reference = 'FFN'  # the differences are to FFN, as the paper's gains
cost_reference = 'TSM'  # training cost 1.0 = one 16-frame TSM run

_tsm = 'configs/studies/demo/tsm.py'
_ffn = 'configs/studies/demo/ffn.py'
rows = [
    # make demo's and make demo-ffn's checkpoints
    dict(
        name='TSM',
        config='configs/tsm_demo_synthetic.py',
        checkpoint='work_dirs/tsm_demo_synthetic/epoch_10.pth',
    ),
    dict(
        name='FFN',
        config='configs/ffn_demo_synthetic.py',
        checkpoint='work_dirs/ffn_demo_synthetic/epoch_8.pth',
    ),
    # Table 1: the baselines
    dict(name='ST-4', config=_tsm, cfg_options=dict(num_frames=4), show=False),
    dict(name='ST-8', config=_tsm, cfg_options=dict(num_frames=8), show=False),
    dict(name='TSM-ST', per_frames={4: 'ST-4', 8: 'ST-8', 16: 'TSM'}),
    dict(name='TSM-Ensemble', ensemble=['ST-4', 'ST-8', 'TSM']),
    dict(name='TSM-Mixed .50', config='configs/studies/demo/mixed.py'),
    dict(
        name='TSM-Mixed .75',
        config='configs/studies/demo/mixed.py',
        cfg_options={'model.data_preprocessor.blending.rho': 0.75},
    ),
    dict(name='TSM-Prop .50', config='configs/studies/demo/proportional.py'),
    dict(
        name='TSM-Prop .75',
        config='configs/studies/demo/proportional.py',
        cfg_options={'model.data_preprocessor.blending.varrho': 0.75},
    ),
    dict(
        name='TSM-FT 16F-4F',
        config='configs/studies/demo/ft_16to4f.py',
        init_from='TSM',
    ),
    # Table 4: FFN less one part each
    dict(
        name='FFN w/o SN',
        config=_ffn,
        cfg_options={'model.backbone.shared_bn': True},
    ),
    dict(
        name='FFN w/o TD', config=_ffn, cfg_options={'model.branch_loss': 'ce'}
    ),
    dict(
        name='FFN w/o WA',
        config=_ffn,
        cfg_options={'model.backbone.adapters': False},
    ),
    dict(
        name='FFN w/o WS',
        config=_ffn,
        cfg_options={'model.backbone.weight_sharing': False},
    ),
]
