"""The frame counts of a multi-branch model, and which branch runs a clip.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (Sec. 5.3): a
clip of ``K`` frames runs the branch whose frame count is nearest to ``K``,
ties to the larger count.
"""

from typing import Sequence

from ..errors import ConfigValueError
from ..utils.config import check_frame_counts


def check_num_segments(value) -> int:
    """A backbone's frames per clip: an integer >= 1.

    Raises:
        ConfigValueError: anything else.
    """
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ConfigValueError(
            f'num_segments must be an integer >= 1, got {value!r}'
        )
    return int(value)


def nearest_branch(num_frames: int, frame_counts: Sequence[int]) -> int:
    """Index of the branch that runs a ``num_frames``-frame clip.

    The branch whose frame count is nearest to ``num_frames``; a tie goes to
    the larger count (FFN Sec. 5.3). With counts (4, 8, 16): 1-5 -> 4,
    6-11 -> 8, 12 and more -> 16.
    """
    return min(
        range(len(frame_counts)),
        key=lambda i: (abs(num_frames - frame_counts[i]), -frame_counts[i]),
    )


class NumSegments:
    """Mixin: a validated, settable ``num_segments`` (frames per clip).

    The TFD sweep sets it on a built model (no reload); a subclass reacts
    in :meth:`_num_segments_changed`.
    """

    @property
    def num_segments(self) -> int:
        """Frames per clip the network runs at."""
        return self._num_segments

    @num_segments.setter
    def num_segments(self, value: int) -> None:
        self._num_segments = check_num_segments(value)
        self._num_segments_changed()

    def _num_segments_changed(self) -> None:
        """Called after every change of ``num_segments``."""


__all__ = [
    'NumSegments',
    'check_frame_counts',
    'check_num_segments',
    'nearest_branch',
]
