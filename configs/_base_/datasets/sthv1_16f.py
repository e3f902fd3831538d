# Something-Something V1 read as downloaded: the JPEG frame folders and the
# four ';' CSVs (no conversion). Everything else is SSv2's (ssv2_16f.py):
# the pipelines (no flip: SSv1 has left/right classes too), the loaders, the
# samplers and the evaluator; FFN trains both sets with one recipe.
# Override the root with `tools/train.py ... --data-root /path/to/sthv1`.
_base_ = ['ssv2_16f.py']

data_root = 'data/sthv1'
ann_file_train = 'something-something-v1-train.csv'
ann_file_val = 'something-something-v1-validation.csv'
label_file = 'something-something-v1-labels.csv'
data_prefix = dict(video='20bn-something-something-v1')
dataset_type = 'SthV1Dataset'

# What every split's dataset shares: SSv1's own files, read as downloaded.
sthv1 = dict(
    type=dataset_type,
    data_root=data_root,
    label_file=label_file,
    data_prefix=data_prefix,
    # Class index = position in the sorted names, as the TSM/FFN repos'
    # gen_label_sthv1.py numbers them (their checkpoints' order); 'csv' is
    # mmaction2's order (docs/sthv1.md).
    class_order='sorted',
)
# ssv2_16f.py's shared dataset dict, replaced by `sthv1` above.
ssv2 = None
# SSv2's loaders, pipelines, sampling and bad-video policies, on SSv1's files.
train_dataloader = dict(dataset=dict(sthv1, ann_file=ann_file_train))
val_dataloader = dict(dataset=dict(sthv1, ann_file=ann_file_val))
# SSv1's test.csv has no labels: report on the validation split, as papers do.
test_dataloader = val_dataloader
