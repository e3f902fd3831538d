"""mmaction2's stock pipelines: what ours is timed against.

Read from the config mmaction2 1.2.0 ships for TSM-R50 on SSv2 at 16
frames (``mmaction::recognition/tsm/
tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py``), so the stock
side is mmaction2's own recipe, not a copy of it.
"""

import copy
import functools
import os.path as osp
from typing import Sequence

import mmaction
from mmengine.config import Config

from tsm_plugin.errors import InputError
from tsm_plugin.utils.config import type_name

STOCK_CONFIG = (
    'recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py'
)


@functools.lru_cache(maxsize=None)
def _stock_config() -> Config:
    # The file mmengine's 'mmaction::' prefix names, found directly: that
    # resolver imports pkg_resources, which a venv without setuptools lacks.
    root = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs')
    return Config.fromfile(osp.join(root, STOCK_CONFIG))


def stock_train_pipeline() -> list:
    """mmaction2's sthv2 video training pipeline, 16 frames (decord)."""
    pipeline = copy.deepcopy(
        list(_stock_config().train_dataloader.dataset.pipeline)
    )
    # Without its Flip: ours trains without one (SSv2 has left/right
    # classes), so both sides time the same augmentations.
    return [t for t in pipeline if type_name(t) != 'Flip']


def stock_val_pipeline() -> list:
    """mmaction2's sthv2 1-clip centre-crop pipeline (FFN's TFD protocol).

    The config's validation pipeline, used as is: its test pipeline samples
    twice and takes three crops (6 views), not the protocol we time.
    """
    return copy.deepcopy(list(_stock_config().val_dataloader.dataset.pipeline))


def stock_test_pipeline(pipeline: Sequence[dict]) -> list:
    """The config's test pipeline as mmaction2 alone would run it.

    Our decoding steps become decord's (``DecordInit``, ``SampleFrames``
    with ``clip_len=1, test_mode=True`` and the same ``num_clips``,
    ``DecordDecode``) and a ``FusedCropResize`` is unfolded into the stock
    transforms it fuses; the rest is kept. Same frames, same output size.
    """
    out = []
    for t in pipeline:
        t = copy.deepcopy(dict(t))
        name = type_name(t)
        if name == 'VideoInit':
            out.append(dict(type='DecordInit'))
        elif name == 'SegmentSampleFrames':
            out.append(
                dict(
                    type='SampleFrames',
                    clip_len=1,
                    frame_interval=1,
                    num_clips=t.get('num_clips', 16),
                    test_mode=True,
                )
            )
        elif name == 'VideoDecode':
            out.append(dict(type='DecordDecode'))
        elif name == 'FusedCropResize':
            out.extend(copy.deepcopy(list(t['transforms'])))
        else:
            out.append(t)
    return out


def decode_prefix(pipeline: Sequence[dict]) -> list:
    """The transforms up to and including the first ``*Decode`` one.

    Raises:
        InputError: the pipeline decodes nothing.
    """
    pipeline = list(pipeline)
    for i, t in enumerate(pipeline):
        if type_name(t).endswith('Decode'):
            return pipeline[: i + 1]
    raise InputError('pipeline has no *Decode transform')
