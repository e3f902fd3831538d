# HMDB51 read as downloaded (no conversion): the .avi class folders
# hmdb51/<class>/<video>.avi and the official three splits
# testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt (docs/hmdb51.md).
# The samplers' num_clips is the recipe's num_frames, carried by
# tsm_plugin's config loader.
# Override the root with `tools/train.py ... --data-root /path/to/hmdb51`.
data_root = 'data/hmdb51'
split_dir = 'testTrainMulti_7030_splits'
data_prefix = dict(video='hmdb51')
dataset_type = 'HMDB51Dataset'
# The official split (1, 2 or 3), carried into every dataset by the config
# loader: `--cfg-options split=2` trains and tests on split 2.
split = 1
# MPEG-4 .avi clips: decord where installed, PyAV otherwise.
video_backend = 'auto'

train_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    # TSN segment sampling: a random frame in each of 16 segments.
    dict(type='SegmentSampleFrames'),
    dict(type='VideoDecode'),
    # mmaction2's TSM training crops, in one interpolation:
    # Resize -> MultiScaleCrop (TSM/FFN scales) -> Resize -> Flip.
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
            # HMDB51 has no left/right classes: a mirrored clip keeps its
            # label. Placed as mmaction2's TSM K400 config places it.
            dict(type='Flip', flip_ratio=0.5),
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

# What every split's dataset shares.
hmdb51 = dict(
    type=dataset_type,
    data_root=data_root,
    split=split,
    split_dir=split_dir,
    data_prefix=data_prefix,
)
# What every split's dataloader shares.
loader = dict(
    batch_size=8,  # clips per GPU; x4 GPUs = the total 32 lr 0.01 is for
    # 'auto' = this process's cores - 1, at most 8 (utils/workers.py).
    num_workers='auto',
    persistent_workers=True,
)
train_dataloader = dict(
    loader,
    sampler=dict(type='ResumableSampler', shuffle=True),
    dataset=dict(
        hmdb51,
        subset='train',  # flag 1 of the split files
        pipeline=train_pipeline,
        on_bad_video='skip',  # a broken .avi: logged once, replaced
    ),
)
val_dataloader = dict(
    loader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        hmdb51,
        subset='test',  # flag 2 of the split files: the reported split
        pipeline=val_pipeline,
        test_mode=True,
        on_bad_video='raise',  # a replaced clip would bias top-1
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')  # top-1 / top-5 / mean class accuracy
test_evaluator = val_evaluator
