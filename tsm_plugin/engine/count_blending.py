"""Batch blending of FFN's single-network baselines: two frame counts in.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 5.1
("Baseline Methods", Tab. 1) trains one TSM on clips of two frame counts,
``n_H`` and ``n_L`` (16 and 4), two ways:

* :class:`MixedSampling` (rho): with probability rho per iteration the
  ``n_L``-frame clip is mixed with mixup into ``n_L`` consecutive positions
  of the ``n_H``-frame clip; the network always sees ``n_H`` frames;
* :class:`ProportionalSampling` (varrho): per iteration the batch is the
  ``n_H``-frame clip with probability varrho, else the ``n_L``-frame one.

Both are a data preprocessor's ``blending`` (mmaction2's
``ActionDataPreprocessor`` calls ``blending(inputs, data_samples)`` in
training only, after normalization). Their input is ``(N, n_H + n_L, C, H,
W)``, the counts concatenated largest first, as
:class:`~tsm_plugin.datasets.multi_count_sampling.MultiCountSampleFrames`
samples them (one decode and one crop for both clips; a config sets the
top-level ``train_frame_counts``, :func:`~tsm_plugin.utils.config.
set_train_frame_counts`). The labels are unchanged: both clips are of one
video.

Randomness: one torch generator per blending, ``torch.default_generator``
(what ``torch.manual_seed`` and MMEngine's ``randomness`` seed) unless
``generator_seed`` gives it a private one.
"""

from typing import Optional, Sequence, Tuple

import torch
from mmaction.registry import MODELS

from ..errors import ConfigValueError
from ..utils.config import check_frame_counts


def _probability(value, what: str) -> float:
    ok = not isinstance(value, (bool, str)) and isinstance(value, (int, float))
    if not ok or not 0 <= value <= 1:
        raise ConfigValueError(f'{what} must be in [0, 1], got {value!r}')
    return float(value)


def _two_counts(frame_counts, what: str) -> Tuple[int, int]:
    """``(n_H, n_L)``: exactly two distinct counts, largest first."""
    counts = check_frame_counts(frame_counts, f'{what} frame_counts')
    if len(counts) != 2:
        raise ConfigValueError(
            f'{what} frame_counts must hold exactly two counts (large, '
            f'small), got {frame_counts!r}'
        )
    return max(counts), min(counts)


class _TwoCountBlending:
    """Shared part: the two counts, the generator, the input check."""

    name = 'blending'

    def __init__(
        self, frame_counts: Sequence[int], generator_seed: Optional[int]
    ) -> None:
        self.large, self.small = _two_counts(frame_counts, self.name)
        self.frame_counts = (self.large, self.small)
        self.generator = torch.default_generator
        if generator_seed is not None:
            self.generator = torch.Generator().manual_seed(int(generator_seed))
        self.last_draw: dict = {}

    def _draw(self) -> float:
        """One uniform draw in [0, 1)."""
        return float(torch.rand((), generator=self.generator))

    def _split(
        self, inputs: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(large clip, small clip)`` of ``(N, n_H + n_L, C, H, W)``.

        Raises:
            ValueError: another shape; the message names the expected one.
        """
        total = self.large + self.small
        if inputs.dim() != 5 or inputs.shape[1] != total:
            raise ValueError(
                f'{self.name}: the training batch must be (N, {total}, C, '
                f'H, W), frame counts {list(self.frame_counts)} '
                f'concatenated largest first (MultiCountSampleFrames, '
                f'train_frame_counts), got {tuple(inputs.shape)}'
            )
        return inputs[:, : self.large], inputs[:, self.large :]


@MODELS.register_module()
class MixedSampling(_TwoCountBlending):
    """FFN's Mixed Sampling: the small clip mixed up into the large one.

    `Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 5.1:
    "randomly choose 4 consecutive frames v^{H'}_i from v^H_i and apply
    mixup to integrate v^L_i into v^H_i. The hyperparameter rho decides the
    probability of whether to apply Mixed Sampling at each iteration." With
    probability ``rho`` per call (one draw per iteration)::

        x_H[:, s:s + n_L] = lam * x_H[:, s:s + n_L] + (1 - lam) * x_L

    The output is always the large clip ``(N, n_H, C, H, W)``; the labels
    are unchanged (one video). The paper is silent on the rest; the
    choices, each an argument:

    * ``lam ~ Beta(alpha, alpha)``, ``alpha = 1`` (uniform) by default, one
      ``lam`` per iteration as mixup draws one per batch;
    * the window start ``s`` is uniform in ``[0, n_H - n_L]``, per sample:
      "consecutive" read as adjacent positions among the ``n_H`` sampled
      frames.

    ``last_draw`` records the last call: ``dict(applied=bool, lam=float or
    None, starts=list[int])``.

    Args:
        rho (float): Probability of mixing, per iteration. Defaults to 0.5.
        alpha (float): Beta parameter of ``lam`` (> 0). Defaults to 1.0.
        frame_counts (Sequence[int]): The two counts ``(n_H, n_L)``, any
            order. Defaults to (16, 4), the paper's.
        lam (float, optional): A fixed ``lam`` in [0, 1] instead of the
            Beta draw. Defaults to None.
        generator_seed (int, optional): Seed of a private generator;
            None (default): torch's global one.
    """

    name = 'MixedSampling'

    def __init__(
        self,
        rho: float = 0.5,
        alpha: float = 1.0,
        frame_counts: Sequence[int] = (16, 4),
        lam: Optional[float] = None,
        generator_seed: Optional[int] = None,
    ) -> None:
        super().__init__(frame_counts, generator_seed)
        self.rho = _probability(rho, 'MixedSampling rho')
        if isinstance(alpha, bool) or not (
            isinstance(alpha, (int, float)) and alpha > 0
        ):
            raise ConfigValueError(
                f'MixedSampling alpha must be > 0, got {alpha!r}'
            )
        self.alpha = float(alpha)
        self.lam = None if lam is None else _probability(lam, 'lam')

    @property
    def network_frames(self) -> float:
        """Frames per sample the network sees: always ``n_H``."""
        return float(self.large)

    def _beta(self) -> float:
        """``lam ~ Beta(alpha, alpha)``: ``X / (X + Y)`` of two gammas."""
        shape = torch.full((2,), self.alpha, dtype=torch.float64)
        x, y = torch._standard_gamma(shape, generator=self.generator)
        return float(x / (x + y))

    def __call__(self, inputs: torch.Tensor, data_samples) -> tuple:
        """Mix (with probability ``rho``) and keep the large clip.

        Args:
            inputs (torch.Tensor): ``(N, n_H + n_L, C, H, W)``.
            data_samples (list[ActionDataSample]): Returned unchanged.

        Returns:
            tuple: ``((N, n_H, C, H, W) inputs, data_samples)``.
        """
        large, small = self._split(inputs)
        if not self._draw() < self.rho:
            self.last_draw = dict(applied=False, lam=None, starts=[])
            return large.contiguous(), data_samples
        lam = self.lam if self.lam is not None else self._beta()
        starts = torch.randint(
            0,
            self.large - self.small + 1,
            (inputs.shape[0],),
            generator=self.generator,
        ).tolist()
        out = large.clone()
        for i, s in enumerate(starts):
            window = out[i, s : s + self.small]
            out[i, s : s + self.small] = lam * window + (1 - lam) * small[i]
        self.last_draw = dict(applied=True, lam=lam, starts=starts)
        return out, data_samples

    def __repr__(self) -> str:
        return (
            f'MixedSampling(rho={self.rho}, alpha={self.alpha}, '
            f'frame_counts={self.frame_counts}, lam={self.lam})'
        )


@MODELS.register_module()
class ProportionalSampling(_TwoCountBlending):
    """FFN's Proportional Sampling: each batch all-large or all-small.

    `Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_, Sec. 5.1:
    "randomly sample 4 frames or 16 frames at each iteration ... varrho
    denotes the probability to sample 16 frames for every iteration". Per
    call (one iteration) the batch is the ``n_H``-frame clip with
    probability ``varrho``, else the ``n_L``-frame clip, every sample at
    that count; the recognizer runs it at its own count
    (:class:`~tsm_plugin.models.flexible_recognizer.FlexibleRecognizer2D`).
    The paper does not say whether the number of iterations changes; here
    it does not (the config's epochs), so a run sees ``network_frames`` per
    sample on average. ``last_draw`` records ``dict(frames=int)``.

    Args:
        varrho (float): Probability of the large count, per iteration.
            Defaults to 0.5.
        frame_counts (Sequence[int]): The two counts ``(n_H, n_L)``, any
            order. Defaults to (16, 4), the paper's.
        generator_seed (int, optional): Seed of a private generator;
            None (default): torch's global one.
    """

    name = 'ProportionalSampling'

    def __init__(
        self,
        varrho: float = 0.5,
        frame_counts: Sequence[int] = (16, 4),
        generator_seed: Optional[int] = None,
    ) -> None:
        super().__init__(frame_counts, generator_seed)
        self.varrho = _probability(varrho, 'ProportionalSampling varrho')

    @property
    def network_frames(self) -> float:
        """Expected frames per sample: ``varrho n_H + (1 - varrho) n_L``."""
        return self.varrho * self.large + (1 - self.varrho) * self.small

    def __call__(self, inputs: torch.Tensor, data_samples) -> tuple:
        """Keep the large clip (probability ``varrho``) or the small one.

        Args:
            inputs (torch.Tensor): ``(N, n_H + n_L, C, H, W)``.
            data_samples (list[ActionDataSample]): Returned unchanged.

        Returns:
            tuple: ``((N, n_H or n_L, C, H, W) inputs, data_samples)``.
        """
        large, small = self._split(inputs)
        out = large if self._draw() < self.varrho else small
        self.last_draw = dict(frames=int(out.shape[1]))
        return out.contiguous(), data_samples

    def __repr__(self) -> str:
        return (
            f'ProportionalSampling(varrho={self.varrho}, '
            f'frame_counts={self.frame_counts})'
        )
