"""The frame count of a built model: which branch runs a clip, the settable
``num_segments``, and setting it on a whole model for a while.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (Sec. 5.3): a
clip of ``K`` frames runs the branch whose frame count is nearest to ``K``,
ties to the larger count.
"""

import contextlib
from typing import Iterator, List, Sequence

import torch
from mmengine.model import is_model_wrapper

from ..utils.config import check_count


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
        self._num_segments = check_count(value, 'num_segments')
        self._num_segments_changed()

    def _num_segments_changed(self) -> None:
        """Called after every change of ``num_segments``."""


def _counted_modules(model: torch.nn.Module) -> List[torch.nn.Module]:
    """Every module of ``model`` (unwrapped) that holds a ``num_segments``.

    Raises:
        ValueError: if none does (not a TSM model).
    """
    net = model.module if is_model_wrapper(model) else model
    modules = [m for m in net.modules() if hasattr(m, 'num_segments')]
    if not modules:
        raise ValueError(f'{type(net).__name__} has no num_segments to set')
    return modules


def set_model_num_frames(model: torch.nn.Module, num_frames: int) -> int:
    """Make a built model run ``num_frames`` frames per clip, weights kept.

    Sets ``num_segments`` on every module that has one: the backbone (whose
    shift modules follow it), the head's consensus, and any temporal shift
    module holding its own copy (mmaction2's ``ResNetTSM``).

    Args:
        model (nn.Module): a recognizer, possibly in a model wrapper.
        num_frames (int): frames per clip.

    Returns:
        int: the number of modules changed.

    Raises:
        ValueError: if no module has ``num_segments`` (not a TSM model).
    """
    modules = _counted_modules(model)
    for module in modules:
        module.num_segments = num_frames
    return len(modules)


@contextlib.contextmanager
def frame_count(model: torch.nn.Module, num_frames: int) -> Iterator[None]:
    """Run a built model at ``num_frames`` frames per clip inside the block.

    ``with frame_count(model, 8): model.test_step(data)``: every module
    that has a ``num_segments`` is set as :func:`set_model_num_frames` sets
    it, and gets its own earlier value back on exit, error or not.

    Raises:
        ValueError: if no module has ``num_segments`` (not a TSM model).
    """
    modules = _counted_modules(model)
    before = [m.num_segments for m in modules]
    try:
        for module in modules:
            module.num_segments = num_frames
        yield
    finally:
        for module, value in zip(modules, before):
            module.num_segments = value


__all__ = [
    'NumSegments',
    'frame_count',
    'nearest_branch',
    'set_model_num_frames',
]
