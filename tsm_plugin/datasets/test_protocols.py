"""Test protocols of TSM: which views of a video are scored, how they average.

Three codebases publish TSM-R50 numbers on Something-Something V2, each
under its own protocol (TSM, https://arxiv.org/abs/1811.08383; FFN,
https://arxiv.org/abs/2303.14817):

* ``efficient`` (the default): the config's own test pipeline. In the
  recipe: 1 clip, the centre frame of each of the ``T`` segments, the centre
  224 crop after short side 256 (FFN Tab. 9: 61.02 top-1 at 16 frames;
  mmaction2 0.x: 61.06).
* ``accurate``: the TSM repo's ``test_models.py --test_crops=3
  --twice_sample --full_res`` (63.1 at 16 frames). ``ops/dataset.py``
  ``_get_test_indices`` with ``twice_sample``: with ``tick = total / T``,
  ``int(tick / 2 + tick * x)`` (the centres), then ``int(tick * x)`` (the
  starts), ``x = 0..T-1`` (its ``+ 1`` only names 1-based image files).
  ``ops/transforms.py`` ``GroupFullResSample(256, 256, flip=False)``:
  short side to 256 by torchvision's ``Resize(256)`` (long side truncated,
  ``int(256 * long / short)``), then three 256 x 256 crops at
  ``(0, 2h)``, ``(4w, 2h)``, ``(2w, 2h)`` with ``w = (W' - 256) // 4``,
  ``h = (H' - 256) // 4``. The network's raw outputs are averaged over the
  2 x 3 views (``eval_video``: ``rst.reshape(batch, num_crop, -1).mean(1)``,
  no ``--softmax``): ``average_clips='score'``.
* ``zoo``: mmaction2 1.x's model-zoo test pipeline
  (``configs/recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_
  sthv2-rgb.py``, 64.16 at 16 frames): ``SampleFrames(twice_sample=True)``
  (the same indices as the TSM repo), ``Resize(scale=(-1, 256))`` (long side
  rounded), ``ThreeCrop(256)`` (offsets ``0``, ``2s``, ``s`` with
  ``s = (W' - 256) // 2``), softmax probabilities averaged
  (``average_clips='prob'``, as its ``tsm_r50.py`` model).

Both multi-view protocols lay the views out as the originals do, crop-major:
``[crop][clip][frame]``, each run of ``T`` frames one view, which is what
mmaction2's ``Recognizer2D`` and head expect. Where mmaction2 expresses the
original exactly its transforms are used (``SampleFrames``, ``Resize``,
``ThreeCrop``, the head's ``average_clips``); :class:`TSMFullResSample` is
the one new step. A config chooses with a top-level ``test_protocol``
(a name, or ``dict(type=name, short_side=256)``); the tools' ``--protocol``
overrides the name.
"""

import copy
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import ConfigValueError
from ..utils.config import SAMPLERS, eval_stage, iter_datasets, type_name

#: The protocols, in the order docs/reproduce.md lists them.
PROTOCOLS = ('efficient', 'accurate', 'zoo')
#: How each multi-view protocol averages its views (the head's
#: ``average_clips``): raw outputs in the TSM repo, softmax in mmaction2.
AVERAGE = dict(accurate='score', zoo='prob')
#: One line per protocol for logs, tables and the JSON.
SUMMARY = dict(
    efficient="the config's test pipeline (recipe: 1 clip x centre crop 224 "
    'after short side 256)',
    accurate='TSM repo: 2 clips (twice sample) x 3 full-res crops '
    '{s}x{s} after short side {s}, logits averaged',
    zoo='mmaction2 1.x zoo: 2 clips (twice sample) x ThreeCrop {s} after '
    'short side {s}, softmax averaged',
)
#: The published top-1 each protocol reproduces (TSM-R50, SSv2, 16 frames).
PUBLISHED = dict(
    efficient='61.02 (FFN Tab. 9); 61.06 (mmaction2 0.x)',
    accurate='63.1 (TSM repo)',
    zoo='64.16 (mmaction2 1.x)',
)


def tsm_scale_size(
    height: int, width: int, short_side: int
) -> Tuple[int, int]:
    """The ``(height, width)`` torchvision's ``Resize(short_side)`` gives.

    The TSM repo's ``GroupScale``: the short side becomes ``short_side``,
    the long one ``int(short_side * long / short)`` (truncated, where
    mmaction2's ``Resize`` rounds).
    """
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(short_side * long / short)
    if width <= height:
        return new_long, short_side
    return short_side, new_long


def full_res_boxes(
    height: int, width: int, short_side: int = 256, crop_size: int = 256
) -> List[Tuple[int, int, int, int]]:
    """``GroupFullResSample``'s crops, ``(left, top, right, bottom)``.

    In the frame resized by :func:`tsm_scale_size`: left, right, centre, as
    the TSM repo orders them (a portrait frame gets three equal centre
    crops, as there).
    """
    image_h, image_w = tsm_scale_size(height, width, short_side)
    w_step = (image_w - crop_size) // 4
    h_step = (image_h - crop_size) // 4
    offsets = [
        (0 * w_step, 2 * h_step),  # left
        (4 * w_step, 2 * h_step),  # right
        (2 * w_step, 2 * h_step),  # centre
    ]
    return [(x, y, x + crop_size, y + crop_size) for x, y in offsets]


@TRANSFORMS.register_module()
class TSMFullResSample(BaseTransform):
    """The TSM repo's ``GroupScale`` + ``GroupFullResSample`` (no flip).

    Resizes each frame as the original does, with Pillow's bilinear
    ``Image.resize`` to :func:`tsm_scale_size` (torchvision's ``Resize`` on
    a PIL image is that call), then takes the three ``crop_size`` crops of
    :func:`full_res_boxes` by integer slicing (``Image.crop``): given the
    same decoded frames, the original's pixels.

    Required keys: ``imgs`` (``N`` RGB uint8 frames ``(H, W, 3)``).
    Modified: ``imgs`` (a ``(3N, crop, crop, 3)`` array, crop-major as the
    original: left, right, centre), ``img_shape``; added: ``crop_bbox``
    (``(3N, 4)``, each frame's box in the resized frame, as mmaction2's
    ``ThreeCrop``).

    Args:
        short_side (int): the resized short side (256: ``net.scale_size``).
        crop_size (int): the square crop (256 with ``--full_res``).
    """

    def __init__(self, short_side: int = 256, crop_size: int = 256) -> None:
        for name, value in (
            ('short_side', short_side),
            ('crop_size', crop_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigValueError(
                    f'TSMFullResSample {name} must be an int, got {value!r}'
                )
        if not 1 <= crop_size <= short_side:
            raise ConfigValueError(
                f'TSMFullResSample crop_size must be in [1, short_side='
                f'{short_side}], got {crop_size}'
            )
        self.short_side = short_side
        self.crop_size = crop_size

    def transform(self, results: dict) -> dict:
        from PIL import Image

        imgs = results['imgs']
        height, width = imgs[0].shape[:2]
        image_h, image_w = tsm_scale_size(height, width, self.short_side)
        boxes = full_res_boxes(height, width, self.short_side, self.crop_size)
        resized = [
            np.asarray(
                Image.fromarray(img).resize((image_w, image_h), Image.BILINEAR)
            )
            for img in imgs
        ]
        results['imgs'] = np.stack(
            [img[y0:y1, x0:x1] for x0, y0, x1, y1 in boxes for img in resized]
        )
        results['crop_bbox'] = np.repeat(np.asarray(boxes), len(imgs), axis=0)
        results['img_shape'] = (self.crop_size, self.crop_size)
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(short_side={self.short_side}, '
            f'crop_size={self.crop_size})'
        )


def resolve_protocol(
    protocol: Union[None, str, dict] = None, cfg=None
) -> dict:
    """The protocol as ``dict(type=name, short_side=...)``.

    Args:
        protocol (str | dict, optional): a name of :data:`PROTOCOLS` or a
            dict with ``type`` (and ``short_side`` for the multi-view ones,
            256 by default). None: the config's ``test_protocol``, else
            ``'efficient'``.
        cfg (Config, optional): whose ``test_protocol`` supplies the
            default and, when ``protocol`` is a bare name, the
            ``short_side``.

    Raises:
        ConfigValueError: an unknown name or a bad ``short_side``.
    """
    base = (cfg.get('test_protocol') if cfg is not None else None) or {}
    if isinstance(base, str):
        base = dict(type=base)
    if protocol is None:
        protocol = base or 'efficient'
    if isinstance(protocol, str):
        spec = dict(base, type=protocol)
    else:
        spec = dict(protocol)
    name = spec.get('type')
    if name not in PROTOCOLS:
        raise ConfigValueError(
            f'test protocol must be one of {", ".join(PROTOCOLS)}, '
            f'got {name!r}'
        )
    if name == 'efficient':
        return dict(type=name)
    short_side = spec.get('short_side', 256)
    if (
        isinstance(short_side, bool)
        or not isinstance(short_side, int)
        or short_side < 1
    ):
        raise ConfigValueError(
            f'test_protocol short_side must be an integer >= 1, got '
            f'{short_side!r}'
        )
    return dict(type=name, short_side=short_side)


def describe_protocol(spec: dict) -> dict:
    """The protocol's record for reports: ``name``, ``summary``,
    ``published``, ``short_side`` (multi-view), ``views`` (clips x crops;
    None for ``efficient``, whose views are the config's) and
    ``average_clips``."""
    name = spec['type']
    side = spec.get('short_side')
    return dict(
        name=name,
        summary=SUMMARY[name].format(s=side),
        published=PUBLISHED[name],
        short_side=side,
        views=None if name == 'efficient' else 6,
        average_clips=AVERAGE.get(name),
    )


def _find(pipeline: Sequence[dict]) -> Tuple[int, int, int]:
    """Indices of the sampler, the decoder after it and FormatShape."""
    names = [type_name(t) for t in pipeline]
    sampler = next(
        (
            i
            for i, t in enumerate(pipeline)
            if 'num_clips' in t or names[i] in SAMPLERS
        ),
        None,
    )
    if sampler is None:
        raise ConfigValueError('test pipeline has no frame sampler')
    decode = next(
        (
            i
            for i in range(sampler + 1, len(names))
            if names[i].endswith('Decode')
        ),
        None,
    )
    fmt = next(
        (
            i
            for i in range(sampler + 1, len(names))
            if names[i] == 'FormatShape'
        ),
        None,
    )
    if decode is None or fmt is None or fmt < decode:
        raise ConfigValueError(
            'test pipeline needs a *Decode step and then FormatShape after '
            f'{names[sampler]} to take a test protocol'
        )
    return sampler, decode, fmt


def protocol_pipeline(pipeline: Sequence[dict], spec: dict) -> List[dict]:
    """``pipeline`` with its sampler and its spatial steps set by ``spec``.

    Keeps what opens and decodes the video (the config's backend) and what
    formats and packs it; the sampler becomes the twice-sampling
    ``SampleFrames`` at the pipeline's frame count, and the steps between
    the decoder and ``FormatShape`` become the protocol's crops.
    """
    pipeline = copy.deepcopy(list(pipeline))
    if spec['type'] == 'efficient':
        return pipeline
    s, d, f = _find(pipeline)
    sampler = dict(
        type='SampleFrames',
        clip_len=1,
        frame_interval=1,
        num_clips=int(pipeline[s].get('num_clips', 1)),
        twice_sample=True,
        test_mode=True,
    )
    side = spec['short_side']
    if spec['type'] == 'accurate':
        crops = [
            dict(type='TSMFullResSample', short_side=side, crop_size=side)
        ]
    else:
        crops = [
            dict(type='Resize', scale=(-1, side)),
            dict(type='ThreeCrop', crop_size=side),
        ]
    return (
        pipeline[:s]
        + [sampler]
        + pipeline[s + 1 : d + 1]
        + crops
        + pipeline[f:]
    )


def apply_test_protocol(cfg, protocol: Union[None, str, dict] = None) -> dict:
    """Set the config's evaluation views and score averaging to a protocol.

    The split evaluation runs on (``test``, else ``val``; see
    :func:`~tsm_plugin.utils.config.eval_stage`) gets the protocol's
    pipeline (:func:`protocol_pipeline`), a copy so the validation loader
    stays as it was; the head's ``average_clips`` follows the protocol;
    ``cfg.test_protocol`` records it. ``efficient`` changes nothing. Applying
    the same protocol twice gives the same config.

    Args:
        cfg (Config): modified in place.
        protocol (str | dict, optional): see :func:`resolve_protocol`.

    Returns:
        dict: the resolved protocol (``type``, ``short_side``).

    Raises:
        ConfigValueError: an unknown protocol, or a pipeline it cannot take.
    """
    spec = resolve_protocol(protocol, cfg)
    cfg.test_protocol = spec
    if spec['type'] == 'efficient':
        return spec
    stage, loader, _ = eval_stage(cfg)
    loader = copy.deepcopy(loader)
    for ds in iter_datasets({'loader': loader}, ('loader',)):
        ds['pipeline'] = protocol_pipeline(ds['pipeline'], spec)
    cfg[f'{stage}_dataloader'] = loader
    if cfg.get(f'{stage}_pipeline'):
        cfg[f'{stage}_pipeline'] = protocol_pipeline(
            cfg[f'{stage}_pipeline'], spec
        )
    head = (cfg.get('model') or {}).get('cls_head')
    if head is not None:
        head['average_clips'] = AVERAGE[spec['type']]
    return spec


def set_model_average_clips(model, average: Optional[str]) -> Optional[str]:
    """Set a built recognizer's head's ``average_clips``; returns the old
    value (None where the model has no such head)."""
    head = getattr(getattr(model, 'module', model), 'cls_head', None)
    if head is None or not hasattr(head, 'average_clips'):
        return None
    old = head.average_clips
    head.average_clips = average
    return old
