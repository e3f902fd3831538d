"""Temporal Distillation: KL from the largest frame count to a smaller one.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (Sec. 4.2,
Eq. 4-5) trains its small-frame-count branches to match the prediction of
the largest one instead of the labels: ``KL(p_H || p_L)`` with ``p_H`` the
softmax of the largest-count logits, detached (the teacher).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS

from ..errors import ConfigValueError


@MODELS.register_module()
class TemporalDistillationLoss(nn.Module):
    """``loss_weight * T**2 * KL(softmax(t / T) || softmax(s / T))``.

    Summed over classes, averaged over the batch (``batchmean``); the
    teacher logits ``t`` are detached, so only the student ``s`` gets a
    gradient. FFN uses ``T = 1`` and ``loss_weight`` (its lambda) ``= 1``.

    Args:
        temperature (float): Softmax temperature ``T`` (> 0). Defaults to 1.
        loss_weight (float): The weight lambda of the term. Defaults to 1.
    """

    def __init__(
        self, temperature: float = 1.0, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ConfigValueError(
                f'TemporalDistillationLoss temperature '
                f'must be > 0, got {temperature!r}'
            )
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(
        self, student: torch.Tensor, teacher: torch.Tensor
    ) -> torch.Tensor:
        """The loss of ``(N, num_classes)`` student and teacher logits.

        Args:
            student (torch.Tensor): Logits of the smaller frame count.
            teacher (torch.Tensor): Logits of the largest frame count.

        Returns:
            torch.Tensor: A scalar.
        """
        t = self.temperature
        log_q = F.log_softmax(student.float() / t, dim=1)
        p = F.softmax(teacher.detach().float() / t, dim=1)
        kl = F.kl_div(log_q, p, reduction='batchmean')
        return self.loss_weight * t * t * kl

    def extra_repr(self) -> str:
        return (
            f'temperature={self.temperature}, loss_weight={self.loss_weight}'
        )
