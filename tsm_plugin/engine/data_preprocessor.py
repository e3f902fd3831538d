"""mmaction2's data preprocessor, handing the model channels_last frames.

A 2D recognizer reshapes its ``(N, T, C, H, W)`` input to ``(N * T, C, H,
W)``; when that tensor is ``torch.channels_last`` every convolution runs in
NHWC, the layout of oneDNN's AMX kernels and cuDNN's tensor-core kernels,
and our temporal shift keeps it (``tsm_plugin.models.temporal_shift``).
The conv weights need not be converted: a conv whose input is
channels_last runs channels_last.

Config (``model.data_preprocessor``)::

    data_preprocessor=dict(type='ChannelsLastActionDataPreprocessor',
                           channels_last='auto', mean=..., std=...,
                           format_shape='NCHW')
"""

from typing import List, Tuple, Union

import torch
from mmaction.models.data_preprocessors import ActionDataPreprocessor
from mmaction.registry import MODELS

from .precision import resolve_channels_last


def to_channels_last(inputs: torch.Tensor) -> torch.Tensor:
    """Lay out ``(..., C, H, W)`` frames channels_last, shape unchanged.

    The leading dims are flattened, so the ``(N * T, C, H, W)`` view a 2D
    recognizer takes of the result is ``torch.channels_last``-contiguous.
    """
    if inputs.dim() < 4:
        return inputs
    lead, chw = inputs.shape[:-3], inputs.shape[-3:]
    frames = inputs.reshape(-1, *chw)
    frames = frames.contiguous(memory_format=torch.channels_last)
    return frames.view(*lead, *chw)


@MODELS.register_module()
class ChannelsLastActionDataPreprocessor(ActionDataPreprocessor):
    """``ActionDataPreprocessor`` whose NCHW output is channels_last.

    Args:
        channels_last (bool | str): True, False, or ``'auto'``: on where
            bf16 is fast (CUDA with bf16, CPUs with AMX), off elsewhere.
            Defaults to ``'auto'``.
        **kwargs: ``ActionDataPreprocessor``'s (``mean``, ``std``,
            ``format_shape``, ...).
    """

    def __init__(
        self, channels_last: Union[bool, str] = 'auto', **kwargs
    ) -> None:
        super().__init__(**kwargs)
        # Validate now (a bad value fails at build); resolve per device.
        resolve_channels_last(channels_last, 'cpu')
        self.channels_last = channels_last

    def preprocess(
        self,
        inputs: Union[torch.Tensor, List[torch.Tensor]],
        data_samples,
        training: bool = False,
    ) -> Tuple:
        """Stack and normalize as mmaction2 does, in channels_last if on.

        The uint8 clips are laid out channels_last before stacking (a 1-byte
        copy), so normalization writes the float batch channels_last
        directly.
        """
        first = inputs if isinstance(inputs, torch.Tensor) else inputs[0]
        on = (
            self.format_shape == 'NCHW'
            and first.dim() >= 4
            and resolve_channels_last(self.channels_last, first.device)
        )
        if on:
            inputs = (
                to_channels_last(inputs)
                if isinstance(inputs, torch.Tensor)
                else [to_channels_last(x) for x in inputs]
            )
        batch_inputs, data_samples = super().preprocess(
            inputs, data_samples, training
        )
        if on:  # a no-op unless stacking or blending changed the layout
            batch_inputs = to_channels_last(batch_inputs)
        return batch_inputs, data_samples
