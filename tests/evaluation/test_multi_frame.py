"""Decode once: one decoding of the union of every frame count's frames,
the same samples as the plain pipeline."""

import copy
import math

import torch

from tests.helpers import record_decodes, tiny_cfg
from tests.tfd_fixtures import CROP, FRAMES
from tsm_plugin.evaluation import MultiFrameTestSample
from tsm_plugin.utils.config import set_num_frames


def test_multi_frame_sample_decodes_once_and_equals_plain_pipeline(
    synthetic_ssv2, tmp_path
):
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    cfg = tiny_cfg(synthetic_ssv2, tmp_path)
    ds_cfg = cfg.test_dataloader.dataset
    sample = MultiFrameTestSample(ds_cfg.pipeline, FRAMES)
    requested = record_decodes(sample)
    dataset = DATASETS.build(dict(ds_cfg, pipeline=[sample]))
    item = dataset[0]
    assert sorted(item) == list(FRAMES)
    assert len(requested) == 1, 'one decode for all frame counts'
    opened = dataset.get_data_info(0)
    for t in sample.before:
        opened = t(opened)
    total = opened['total_frames']
    # the centre of each segment, all frame counts together, each once
    want = sorted(
        {math.floor(total / t * (i + 0.5)) for t in FRAMES for i in range(t)}
    )
    assert requested[0].tolist() == want
    for t in FRAMES:
        cfg_t = copy.deepcopy(cfg)
        set_num_frames(cfg_t, t)
        plain = DATASETS.build(cfg_t.test_dataloader.dataset)[0]
        assert item[t]['inputs'].shape == (t, 3, CROP, CROP)
        assert torch.equal(item[t]['inputs'], plain['inputs'])
        assert torch.equal(
            item[t]['data_samples'].gt_label, plain['data_samples'].gt_label
        )
