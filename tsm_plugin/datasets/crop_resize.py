"""Crop and resize a clip in one interpolation, uint8 throughout.

The stock SSv2 pipelines resize every decoded frame (short side 256), crop,
and (training) resize the crop again to 224: two full-frame interpolations
and a list of intermediate frames per clip. :class:`FusedCropResize` runs
the same mmaction2 transforms in their ``lazy`` mode on the frame *shape*
only, so they draw the same random crop (same ``random`` calls, same
candidates) and yield its box in source-frame coordinates; then each frame
is sampled once, straight from the decoded frame into a preallocated
``(T, H, W, 3)`` uint8 array.

The geometry is exactly the stock one: the output pixel ``u`` samples the
source at ``left + (u + 0.5) * (right - left) / W_out - 0.5``, which is
where the stock resize-crop-resize chain samples it too; the only
difference is one bilinear interpolation instead of two (a mean absolute
difference of about one grey level on natural video).

Config::

    dict(type='FusedCropResize', transforms=[
        dict(type='Resize', scale=(-1, 256)),
        dict(type='MultiScaleCrop', input_size=224,
             scales=(1, .875, .75, .66), random_crop=False,
             max_wh_scale_gap=1, num_fixed_crops=13),
        dict(type='Resize', scale=(224, 224), keep_ratio=False)])
"""

import copy
from typing import List, Sequence, Tuple, Union

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import ConfigValueError

#: mmaction2 transforms with a ``lazy`` mode, i.e. the ones that can fuse.
FUSABLE = (
    'Resize',
    'MultiScaleCrop',
    'RandomResizedCrop',
    'RandomCrop',
    'CenterCrop',
    'Flip',
)

_INTERPOLATION = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
}


def crop_resize(
    imgs: Union[np.ndarray, Sequence[np.ndarray]],
    box: Sequence[float],
    size: Tuple[int, int],
    interpolation: str = 'bilinear',
    flip: bool = False,
) -> np.ndarray:
    """Sample the box ``(left, top, right, bottom)`` of each frame at ``size``.

    Args:
        imgs (ndarray | list[ndarray]): ``T`` frames of shape ``(H, W, C)``
            (any dtype OpenCV resamples; uint8 stays uint8).
        box (sequence[float]): the crop in source pixels; fractional edges
            are sampled exactly (no rounding).
        size (tuple[int]): output ``(height, width)``.
        interpolation (str): ``'bilinear'``, ``'nearest'`` or ``'bicubic'``.
        flip (bool): also flip horizontally.

    Returns:
        ndarray: ``(T, height, width, C)``, the dtype of ``imgs``.
    """
    out_h, out_w = size
    left, top, right, bottom = (float(v) for v in box)
    sx, sy = (right - left) / out_w, (bottom - top) / out_h
    # Destination pixel centre -> source pixel centre (inverse map).
    tx, ty = left + 0.5 * sx - 0.5, top + 0.5 * sy - 0.5
    if flip:  # output column u reads where column out_w - 1 - u would
        matrix = np.array([[-sx, 0, tx + (out_w - 1) * sx], [0, sy, ty]])
    else:
        matrix = np.array([[sx, 0, tx], [0, sy, ty]])
    first = imgs[0]
    out = np.empty((len(imgs), out_h, out_w) + first.shape[2:], first.dtype)
    flags = _INTERPOLATION[interpolation] | cv2.WARP_INVERSE_MAP
    for img, dst in zip(imgs, out):
        cv2.warpAffine(
            img,
            matrix,
            (out_w, out_h),
            dst=dst,
            flags=flags,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return out


@TRANSFORMS.register_module()
class FusedCropResize(BaseTransform):
    """mmaction2 resize/crop/flip transforms, applied in one interpolation.

    Args:
        transforms (list[dict]): the stock transforms to fuse, in pipeline
            order; each must be one of :data:`FUSABLE` (they are built with
            ``lazy=True``).

    Required keys: ``imgs`` (``T`` frames ``(H, W, 3)``). Added or modified:
    ``imgs`` (a ``(T, H', W', 3)`` array), ``img_shape``, ``crop_bbox``
    (in source-frame pixels), ``crop_quadruple``, ``scale_factor``,
    ``flip`` / ``flip_direction`` and ``label`` (if a ``Flip`` is fused).
    """

    def __init__(self, transforms: List[dict]) -> None:
        if not transforms:
            raise ConfigValueError('FusedCropResize: transforms is empty')
        self.transforms = []
        for cfg in transforms:
            name = cfg.get('type') if isinstance(cfg, dict) else None
            if name not in FUSABLE:
                raise ConfigValueError(
                    f'FusedCropResize cannot fuse {name!r}; only {FUSABLE}'
                )
            cfg = copy.deepcopy(cfg)
            cfg['lazy'] = True
            self.transforms.append(TRANSFORMS.build(cfg))

    def plan(self, img_shape: Tuple[int, int], **keys) -> dict:
        """Run the lazy transforms on a frame shape (draws the random crop).

        Args:
            img_shape (tuple[int]): the source frames' ``(height, width)``.
            **keys: other keys the transforms read (``modality``, and
                ``label`` for a ``Flip`` with ``flip_label_map``).

        Returns:
            dict: the lazy results: ``img_shape`` (output size), ``lazy``
            (``crop_bbox`` in source pixels, ``flip``, ``interpolation``),
            ``crop_quadruple``, ``scale_factor``...
        """
        results = dict(keys, img_shape=tuple(img_shape))
        results.setdefault('modality', 'RGB')
        for t in self.transforms:
            results = t(results)
        return results

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        plan = self.plan(
            imgs[0].shape[:2],
            modality=results.get('modality', 'RGB'),
            label=results.get('label'),
        )
        lazy = plan.pop('lazy')
        flip = bool(lazy['flip'])
        if flip and lazy['flip_direction'] != 'horizontal':
            raise ConfigValueError(
                'FusedCropResize fuses horizontal flips only, '
                f'got {lazy["flip_direction"]!r}'
            )
        results['imgs'] = crop_resize(
            imgs,
            lazy['crop_bbox'],
            plan['img_shape'],
            lazy['interpolation'] or 'bilinear',
            flip,
        )
        results['crop_bbox'] = np.asarray(lazy['crop_bbox'], np.float32)
        for key in (
            'img_shape',
            'crop_quadruple',
            'scale_factor',
            'keep_ratio',
            'flip',
            'flip_direction',
        ):
            if key in plan:
                results[key] = plan[key]
        if 'label' in results:  # a Flip's flip_label_map may change it
            results['label'] = plan['label']
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
