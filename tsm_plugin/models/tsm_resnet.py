"""TSM-ResNet: mmaction2's ResNet with a residual temporal shift per block.

`TSM: Temporal Shift Module for Efficient Video Understanding
<https://arxiv.org/abs/1811.08383>`_, "blockres" placement: the input of
each residual block's first conv is shifted in time
(:func:`~tsm_plugin.models.temporal_shift.temporal_shift`) while the
identity path keeps the unshifted feature.
"""

import re
from typing import Dict, List

import torch
from mmaction.models.backbones.resnet import ResNet
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from .checkpoint_formats import read_state_dict
from .frame_counts import NumSegments
from .temporal_shift import TemporalShift

# Our parameter name -> torchvision's, in order (mmaction2's ConvModule holds
# conv + bn where torchvision has convN + bnN / downsample.0 + downsample.1).
_TO_TORCHVISION = (
    (re.compile(r'\.net\.'), '.'),  # our TemporalShift wrapper
    (re.compile(r'downsample\.conv\.'), 'downsample.0.'),
    (re.compile(r'downsample\.bn\.'), 'downsample.1.'),
    (re.compile(r'conv(\d)\.conv\.'), r'conv\1.'),
    (re.compile(r'conv(\d)\.bn\.'), r'bn\1.'),
)


def torchvision_name(name: str) -> str:
    """The torchvision ResNet key of one of our state_dict keys.

    ``layer1.0.conv1.conv.net.weight`` -> ``layer1.0.conv1.weight``,
    ``layer1.0.conv1.bn.running_mean`` -> ``layer1.0.bn1.running_mean``,
    ``layer2.0.downsample.bn.bias`` -> ``layer2.0.downsample.1.bias``.
    """
    for pattern, repl in _TO_TORCHVISION:
        name = pattern.sub(repl, name)
    return name


@MODELS.register_module()
class TSMResNet(NumSegments, ResNet):
    """ResNet with TSM's residual temporal shift before every block.

    `TSM: Temporal Shift Module for Efficient Video Understanding
    <https://arxiv.org/abs/1811.08383>`_. mmaction2's
    :class:`~mmaction.models.backbones.ResNet` (depth, ``frozen_stages``,
    ``norm_eval``, ``partial_bn``, ...) whose blocks' ``conv1.conv`` is
    wrapped in :class:`~tsm_plugin.models.temporal_shift.TemporalShift`,
    so the state_dict keys equal mmaction2's ``ResNetTSM`` (shift_place
    ``'blockres'``) and its model-zoo checkpoints load strictly. As in TSM,
    a network whose third stage has >= 23 blocks (ResNet-101/152) shifts
    every other block only.

    ``num_segments`` is a property: setting it on a built model updates
    every shift, so one checkpoint can be evaluated at other frame counts
    without reloading (the TFD evaluation of
    https://arxiv.org/abs/2303.14817).

    Args:
        depth (int): ResNet depth, one of 18, 34, 50, 101, 152.
        num_segments (int): Frames per clip; the backbone input is
            ``(N * num_segments, C, H, W)``. Defaults to 8.
        shift_div (int): ``C // shift_div`` channels shift each way.
            Defaults to 8.
        pretrained (str, optional): ``None`` initialises from scratch
            (Kaiming convs, unit BN); a local torchvision ResNet ``.pth``
            (a state dict, or a dict holding one under ``'state_dict'``) or
            ``'torchvision://resnet50'`` loads ImageNet weights, reporting
            missing and unused keys through MMLogger. Defaults to None.
        **kwargs: Other arguments of mmaction2's ``ResNet`` (``norm_eval``,
            ``frozen_stages``, ``partial_bn``, ``torchvision_pretrain``,
            ``out_indices``, ...).
    """

    def __init__(
        self,
        depth: int,
        num_segments: int = 8,
        shift_div: int = 8,
        pretrained=None,
        **kwargs,
    ) -> None:
        super().__init__(depth, pretrained=pretrained, **kwargs)
        self.shift_div = shift_div
        every = 2 if self.arch_settings[depth][1][2] >= 23 else 1
        for layer_name in self.res_layers:
            for i, block in enumerate(getattr(self, layer_name)):
                if i % every == 0:
                    block.conv1.conv = TemporalShift(
                        block.conv1.conv, num_segments, shift_div
                    )
        self.num_segments = num_segments

    def _num_segments_changed(self) -> None:
        """Every shift of the network follows ``num_segments``."""
        for module in self.modules():
            if isinstance(module, TemporalShift):
                module.num_segments = self._num_segments

    def forward(self, x: torch.Tensor):
        """Extract features of ``(N * num_segments, C, H, W)`` frames.

        Args:
            x (torch.Tensor): The frames, clip by clip.

        Returns:
            torch.Tensor | tuple[torch.Tensor]: The features of the stages
            in ``out_indices``.

        Raises:
            ValueError: if the frame count is not a multiple of
                ``num_segments``.
        """
        if x.shape[0] % self._num_segments:
            raise ValueError(
                f'TSMResNet: the batch of {x.shape[0]} frames is not '
                f'divisible by num_segments={self._num_segments}'
            )
        return super().forward(x)

    def train(self, mode: bool = True) -> 'TSMResNet':
        """Set train/eval mode (frozen stages, ``norm_eval`` kept).

        mmaction2's ``ResNet.train`` returns None; this returns ``self`` as
        :meth:`torch.nn.Module.train` does, so ``model.eval()`` chains.
        """
        super().train(mode)
        return self

    def init_weights(self) -> None:
        """Initialise from scratch, then load ``pretrained`` if given."""
        if isinstance(self.pretrained, str) and self.torchvision_pretrain:
            # Scratch init first, so anything the checkpoint lacks starts
            # sensible rather than at torch's defaults.
            BaseModule.init_weights(self)
            self._load_torchvision_checkpoint(MMLogger.get_current_instance())
        else:
            super().init_weights()

    def _load_torchvision_checkpoint(self, logger: MMLogger) -> None:
        """Load a torchvision ResNet checkpoint (``self.pretrained``).

        Tensors are matched by name (:func:`torchvision_name`) and shape;
        the rest is reported: our tensors the checkpoint lacks (warning),
        shape mismatches (warning) and checkpoint tensors we do not use,
        such as the ImageNet ``fc`` (info).

        Raises:
            InputError: if ``pretrained`` is a local path that does not
                exist.
        """
        path = self.pretrained
        checkpoint = read_state_dict(path)

        state: Dict[str, torch.Tensor] = {}
        used = set()
        missing: List[str] = []
        mismatched: List[str] = []
        for name, tensor in self.state_dict().items():
            tv_name = torchvision_name(name)
            if tv_name not in checkpoint:
                if not name.endswith('num_batches_tracked'):
                    missing.append(name)
                continue
            used.add(tv_name)
            value = checkpoint[tv_name]
            if value.shape != tensor.shape:
                mismatched.append(
                    f'{name} {tuple(value.shape)} vs ours '
                    f'{tuple(tensor.shape)}'
                )
                continue
            state[name] = value
        self.load_state_dict(state, strict=False)

        unused = sorted(set(checkpoint) - used)
        logger.info(f'TSMResNet: loaded {len(state)} tensors from {path}')
        if missing:
            logger.warning(
                f'TSMResNet: missing in {path} (kept scratch '
                f'init): {", ".join(missing)}'
            )
        if mismatched:
            logger.warning(
                f'TSMResNet: shape mismatch, not loaded from '
                f'{path}: {"; ".join(mismatched)}'
            )
        if unused:
            logger.info(
                f'TSMResNet: unused keys of {path}: {", ".join(unused)}'
            )
