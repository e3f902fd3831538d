# Something-Something V2 read as downloaded (no conversion). The samplers'
# num_clips is the recipe's num_frames, carried by tsm_plugin's config loader.
# Override the root with `tools/train.py ... --data-root /path/to/ssv2`.
data_root = 'data/sthv2'
ann_file_train = 'labels/train.json'
ann_file_val = 'labels/validation.json'
label_file = 'labels/labels.json'
data_prefix = dict(video='20bn-something-something-v2')
dataset_type = 'SSv2Dataset'
video_backend = 'pyav'

train_pipeline = [
    # PyAV: measured faster than decord on SSv2's VP9 webm (benchmark.py
    # data); backend='auto' picks decord where installed, PyAV otherwise.
    dict(type='VideoInit', backend=video_backend),
    # TSN segment sampling: a random frame in each of 16 segments.
    dict(type='SegmentSampleFrames'),
    dict(type='VideoDecode'),
    # mmaction2's own Resize -> MultiScaleCrop (TSM/FFN scales) -> Resize,
    # run on shapes, then one uint8 interpolation of the crop box. No flip:
    # SSv2 has left/right classes.
    dict(
        type='FusedCropResize',
        transforms=[
            dict(type='Resize', scale=(-1, 256)),
            dict(
                type='MultiScaleCrop',
                input_size=224,
                scales=(1, 0.875, 0.75, 0.66),
                random_crop=False,
                max_wh_scale_gap=1,
                num_fixed_crops=13,
            ),
            dict(type='Resize', scale=(224, 224), keep_ratio=False),
        ],
    ),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
# FFN's test protocol: 1 clip, centre of each segment, short side 256,
# centre crop 224.
val_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SegmentSampleFrames', test_mode=True),
    dict(type='VideoDecode'),
    dict(
        type='FusedCropResize',
        transforms=[
            dict(type='Resize', scale=(-1, 256)),
            dict(type='CenterCrop', crop_size=224),
        ],
    ),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = val_pipeline

# What every split's dataset shares: SSv2's own files, read as downloaded.
ssv2 = dict(
    type=dataset_type,
    data_root=data_root,
    label_file=label_file,
    data_prefix=data_prefix,
    # a clip takes <2 s to decode; past 60 s its decoder is stuck: skip/raise
    decode_deadline=60.0,
)
# What every split's dataloader shares.
loader = dict(
    batch_size=8,  # clips per GPU; x4 GPUs = the total 32 lr 0.01 is for
    # Decoding is the cost of a clip: 'auto' = this process's cores - 1, at
    # most 8 (tsm_plugin/utils/workers.py); a number overrides it.
    num_workers='auto',
    persistent_workers=True,
)
train_dataloader = dict(
    loader,
    # DefaultSampler's order, plus skip-ahead on resume and one seed per clip
    sampler=dict(type='ResumableSampler', shuffle=True),
    dataset=dict(
        ssv2,
        ann_file=ann_file_train,
        pipeline=train_pipeline,
        on_bad_video='skip',  # a broken .webm: logged once, replaced
    ),
)
val_dataloader = dict(
    loader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        ssv2,
        ann_file=ann_file_val,
        pipeline=val_pipeline,
        test_mode=True,
        on_bad_video='raise',  # a replaced clip would bias top-1
    ),
)
# SSv2's test.json has no labels: report on the validation split, as papers do.
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')  # top-1 / top-5 / mean class accuracy
test_evaluator = val_evaluator
