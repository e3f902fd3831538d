"""TSM-ResNet: mmaction2's ResNet with a residual temporal shift per block.

`TSM: Temporal Shift Module for Efficient Video Understanding
<https://arxiv.org/abs/1811.08383>`_, "blockres" placement: the input of
each residual block's first conv is shifted in time
(:func:`~tsm_plugin.models.temporal_shift.temporal_shift`) while the
identity path keeps the unshifted feature.
"""

import torch
from mmaction.models.backbones.resnet import ResNet
from mmaction.registry import MODELS
from mmengine.model import BaseModule

from .frame_counts import NumSegments
from .pretrained import load_pretrained
from .temporal_shift import TemporalShift


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
            (Kaiming convs, unit BN); a local ``.pth`` (a state dict, or a
            dict holding one under ``'state_dict'``: a torchvision ResNet,
            or a TSM in any format of :mod:`.state_dict_keys`) or
            ``'torchvision://resnet50'`` loads those weights, reporting
            missing and unused keys through MMLogger and refusing a shape
            that does not fit. Defaults to None.
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
        """Initialise from scratch, then load ``pretrained`` if given.

        Scratch init first, so anything the checkpoint lacks starts sensible
        rather than at torch's defaults; the checkpoint is read by
        :func:`~tsm_plugin.models.pretrained.load_pretrained` (torchvision,
        ours, mmaction2's or the TSM repo's keys).
        """
        if isinstance(self.pretrained, str) and self.torchvision_pretrain:
            BaseModule.init_weights(self)
            load_pretrained(self, self.pretrained)
        else:
            super().init_weights()
