"""A 2D recognizer that trains each batch at the batch's own frame count.

FFN's Proportional Sampling baseline (`Frame Flexible Network
<https://arxiv.org/abs/2303.14817>`_, Sec. 5.1, Tab. 1) trains one TSM
(https://arxiv.org/abs/1811.08383) on batches of 16 frames or of 4 frames
(:class:`~tsm_plugin.engine.count_blending.ProportionalSampling`). TSM's
temporal shift and its head's consensus both hold a frame count
(``num_segments``), so each batch must run at its own.
"""

from mmaction.models.recognizers import Recognizer2D
from mmaction.registry import MODELS
from mmaction.utils import SampleList

from .frame_counts import frame_count


@MODELS.register_module()
class FlexibleRecognizer2D(Recognizer2D):
    """mmaction2's ``Recognizer2D`` whose training step runs at the input's
    frame count.

    In :meth:`loss` a batch ``(N, T, C, H, W)`` runs with ``num_segments =
    T`` on every module that has one (the backbone's shift, the head's
    consensus; :func:`~tsm_plugin.models.frame_counts.frame_count`), which
    get their values back afterwards. Test and predict are
    ``Recognizer2D``'s: at ``num_segments``, ``T / num_segments`` views.
    Arguments are ``Recognizer2D``'s.
    """

    def loss(self, inputs, data_samples: SampleList, **kwargs) -> dict:
        """``Recognizer2D.loss`` at ``T = inputs.shape[1]`` frames per clip.

        Args:
            inputs (torch.Tensor): ``(N, T, C, H, W)``.
            data_samples (list[ActionDataSample]): The labels.

        Returns:
            dict: The head's losses.
        """
        with frame_count(self, int(inputs.shape[1])):
            return super().loss(inputs, data_samples, **kwargs)
