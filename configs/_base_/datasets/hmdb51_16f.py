# HMDB51 read as downloaded (no conversion): the .avi class folders
# hmdb51/<class>/<video>.avi and the official three splits
# testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt (docs/hmdb51.md).
# Everything else is Kinetics-400's (k400_16f.py): the pipelines (with a
# horizontal flip: neither set has left/right classes), the loaders, the
# samplers and the evaluator.
# Override the root with `tools/train.py ... --data-root /path/to/hmdb51`.
_base_ = ['k400_16f.py']

data_root = 'data/hmdb51'
split_dir = 'testTrainMulti_7030_splits'
data_prefix = dict(video='hmdb51')
dataset_type = 'HMDB51Dataset'
# The official split (1, 2 or 3), carried into every dataset by the config
# loader: `--cfg-options split=2` trains and tests on split 2.
split = 1

# What every split's dataset shares.
hmdb51 = dict(
    type=dataset_type,
    data_root=data_root,
    split=split,
    split_dir=split_dir,
    data_prefix=data_prefix,
    # A listed video without a file: left out, counted in the log.
    on_missing='skip',
)
# k400_16f.py's own files, replaced by the split files above.
k400 = ann_file_train = ann_file_val = None
train_dataloader = dict(
    dataset=dict(
        hmdb51,
        _delete_=True,  # none of K400's dataset keys (ann_file...) apply
        subset='train',  # flag 1 of the split files
        pipeline={{_base_.train_pipeline}},
        on_bad_video='skip',  # a broken .avi: logged once, replaced
    ),
)
val_dataloader = dict(
    dataset=dict(
        hmdb51,
        _delete_=True,
        subset='test',  # flag 2 of the split files: the reported split
        pipeline={{_base_.val_pipeline}},
        test_mode=True,
        on_bad_video='raise',  # a replaced clip would bias top-1
    ),
)
test_dataloader = val_dataloader
