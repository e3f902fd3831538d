"""What a video dataset does with a video it cannot use: raise or skip.

Large SSv2 copies hold a few broken files. A video cannot be used when it is
missing, empty, truncated or not a video (the readers raise
:class:`~tsm_plugin.datasets.video_io.VideoReadError`), has fewer than
``min_frames`` frames, has a frame smaller than ``min_side`` pixels on a
side, changes frame size mid-stream (the clip could not be stacked), or
takes longer than ``decode_deadline`` seconds to decode (a decoder stuck in
a loop: :class:`DecodeDeadlineError`, see
:mod:`tsm_plugin.engine.decode_watchdog`).

"Fewer frames than needed": TSN segment sampling repeats frames of a short
video instead of failing (a 3-frame video gives 16 frames, each repeated),
as TSM does, so by default (``min_frames=1``) only a video with no
decodable frame is unusable; set ``min_frames`` to reject short ones.
Odd sizes (e.g. 33x25) are fine: the pipeline resizes every frame.

The rules are written once (:func:`frame_count_problem`,
:func:`frame_size_problem`) and applied twice: by :class:`BadVideoPolicy`
to the frames training samples, and by :func:`check_video` to every frame
(``tools/preflight.py``), with the same one-line messages.

:class:`BadVideoPolicy` (a mixin for mmengine datasets) applies the
``on_bad_video`` policy:

* ``'raise'``: stop with the reader's one-line message naming the file
  (the default for evaluation, where a replaced sample would bias the
  metric);
* ``'skip'`` (the default for training): log the file once, count it, and
  return the next usable sample instead (index + 1, + 2, ... so the
  replacement is deterministic). Known bad files are not opened again.
  The bad-file marks and the skip counts live in shared memory
  (:class:`~tsm_plugin.utils.worker_state.VideoMarks`), so they hold
  across dataloader worker processes;
  :class:`~tsm_plugin.engine.hooks.SkippedVideosHook` logs the count per
  epoch.

:meth:`BadVideoPolicy.__getitem__` is a fork of the refetch loop of
mmengine's ``BaseDataset.__getitem__`` (``mmengine/dataset/base_dataset.py``)
that adds the skip policy: where mmengine refetches a random other index
when the pipeline returns None, this loop walks to the next index (a
deterministic replacement), catches unusable videos, and gives up early
when every file fails.

It also seeds each sample's augmentation when the sampler's index carries a
seed (:class:`~tsm_plugin.engine.samplers.SeededIndex`), see
:func:`~tsm_plugin.utils.seeding.seeded_rng`.
"""

from contextlib import contextmanager
from typing import Iterable, List, Optional, Tuple

import torch
from mmengine.logging import print_log

from ..errors import InputError
from ..utils.seeding import seeded_rng
from ..utils.worker_state import VideoMarks, main_process_alarm
from .video_io import VideoReadError, open_video

POLICIES = ('raise', 'skip')
# Fresh failures in a row before "skip" gives up: a wrong data_root or
# video folder makes every file fail, and that must stop, not scan 169k.
MAX_CONSECUTIVE_BAD = 50
# Seconds one sample's pipeline may take before its video counts as broken.
# Measured on 2 shared x86_64 cores, PyAV and decord: 16 frames of a 240p
# SSv2-sized or a 340x256 10 s K400-sized clip decode in 0.1-0.3 s, every
# frame of the latter in at most 1.05 s. 60 s never cuts a healthy clip and
# costs a minute per stuck file, once (the file is then marked bad).
DEFAULT_DECODE_DEADLINE = 60.0


class DecodeDeadlineError(VideoReadError):
    """A video whose decode ran past ``decode_deadline`` (one line)."""

    @classmethod
    def of(cls, path: str, deadline: float) -> 'DecodeDeadlineError':
        return cls(
            f'cannot read video {path}: decoding took more than '
            f'{deadline:g} s (decode_deadline={deadline:g})'
        )


def frame_count_problem(
    path: str, total: int, min_frames: int
) -> Optional[str]:
    """Why a video of ``total`` frames is unusable, or None if it is not."""
    if total < min_frames:
        return (
            f'cannot read video {path}: {total} frames, fewer than '
            f'min_frames={min_frames}'
        )
    return None


def frame_size_problem(
    path: str, shapes: Iterable[Tuple[int, int]], min_side: int
) -> Optional[str]:
    """Why frames of these ``(height, width)`` sizes are unusable, or None.

    One size for all frames (else the clip cannot be stacked), at least
    ``min_side`` pixels on each side.
    """
    shapes = {tuple(shape) for shape in shapes}
    if len(shapes) > 1:
        return (
            f'cannot read video {path}: the frame size changes within '
            f'the video ({sorted(shapes)})'
        )
    h, w = shapes.pop()
    if min(h, w) < min_side:
        return (
            f'cannot read video {path}: frames are {w}x{h} px, smaller '
            f'than min_side={min_side}'
        )
    return None


def check_video(
    path: str, min_frames: int = 1, min_side: int = 8, backend: str = 'auto'
) -> Optional[str]:
    """Decode every frame of ``path``; None if usable, else why not.

    The rules of :class:`BadVideoPolicy` (:func:`frame_count_problem`,
    :func:`frame_size_problem`: what training would skip or raise on),
    applied to all frames instead of the sampled ones: the pre-cluster
    check of ``tools/preflight.py``.
    """
    try:
        with open_video(path, backend) as reader:
            problem = frame_count_problem(path, reader.num_frames, min_frames)
            if problem:
                return problem
            shapes = set()
            step = 64  # bounded memory for long videos
            for start in range(0, reader.num_frames, step):
                stop = min(start + step, reader.num_frames)
                shapes.update(
                    f.shape[:2]
                    for f in reader.get_frames(list(range(start, stop)))
                )
    except VideoReadError as err:
        return str(err)
    return frame_size_problem(path, shapes, min_side)


class BadVideoPolicy:
    """Mixin for an mmengine ``BaseDataset`` whose pipeline decodes videos.

    Call :meth:`_init_bad_video_policy` in ``__init__`` before the base
    class's ``__init__``. Each sample's file is ``data_list[i]['filename']``.

    Args (of ``_init_bad_video_policy``):
        on_bad_video (str, optional): 'raise' or 'skip'; None: 'skip' for
            training, 'raise' with ``test_mode``.
        min_frames (int): Fewest frames a usable video has (>= 1).
        min_side (int): Fewest pixels on a side of a usable frame.
        decode_deadline (float, optional): Seconds one sample's pipeline
            may take; past it the video is unusable
            (:class:`DecodeDeadlineError`). Enforced from outside the
            dataloader worker (:mod:`tsm_plugin.engine.decode_watchdog`);
            with ``num_workers=0`` by ``SIGALRM``, which cannot cut native
            code that holds the GIL. None: no deadline.
    """

    def _init_bad_video_policy(
        self,
        on_bad_video: Optional[str],
        test_mode: bool,
        min_frames: int = 1,
        min_side: int = 8,
        decode_deadline: Optional[float] = DEFAULT_DECODE_DEADLINE,
    ) -> None:
        if on_bad_video is None:
            on_bad_video = 'raise' if test_mode else 'skip'
        if on_bad_video not in POLICIES:
            raise InputError(
                f'on_bad_video must be one of {POLICIES}, got {on_bad_video!r}'
            )
        if min_frames < 1 or min_side < 1:
            raise InputError(
                f'min_frames and min_side must be >= 1, got '
                f'{min_frames} and {min_side}'
            )
        if decode_deadline is not None and (
            not isinstance(decode_deadline, (int, float))
            or isinstance(decode_deadline, bool)
            or not decode_deadline > 0
        ):
            raise InputError(
                'decode_deadline must be a number of seconds > 0 or None, '
                f'got {decode_deadline!r}'
            )
        self.on_bad_video = on_bad_video
        self.min_frames = int(min_frames)
        self.min_side = int(min_side)
        self.decode_deadline = decode_deadline
        self._bad_state = None

    def full_init(self) -> None:
        super().full_init()
        if getattr(self, '_bad_state', None) is None:
            self._bad_state = VideoMarks(len(self))

    # -- checks ---------------------------------------------------------
    def _check_frames(self, results: dict) -> None:
        problem = frame_count_problem(
            results.get('filename'), results['total_frames'], self.min_frames
        )
        if problem:
            raise VideoReadError(problem)

    def _check_size(self, results: dict) -> None:
        problem = frame_size_problem(
            results.get('filename'),
            (img.shape[:2] for img in results['imgs']),
            self.min_side,
        )
        if problem:
            raise VideoReadError(problem)

    def _prepare_checked(self, idx: int):
        """``prepare_data``, checking the video as soon as the pipeline has
        opened it (frame count) and decoded it (frame sizes)."""
        results = self.get_data_info(idx)
        frames_checked = size_checked = False
        for transform in self.pipeline.transforms:
            results = transform(results)
            if results is None:
                return None
            if not frames_checked and 'total_frames' in results:
                self._check_frames(results)
                frames_checked = True
            if not size_checked and results.get('imgs'):
                self._check_size(results)
                size_checked = True
        return results

    # -- the decode deadline ---------------------------------------------
    @contextmanager
    def _decoding(self, idx: int):
        """Record the decode of ``idx`` for the watchdog; without workers,
        bound it with SIGALRM."""
        clock = self._bad_state.clock
        clock.start(idx)
        deadline = getattr(self, 'decode_deadline', None)
        alarm = deadline and torch.utils.data.get_worker_info() is None
        try:
            with main_process_alarm(
                deadline if alarm else 0,
                lambda: DecodeDeadlineError.of(self._path(idx), deadline),
            ):
                yield
        finally:
            clock.stop()

    def _path(self, idx: int) -> str:
        return self.get_data_info(idx).get('filename')

    def overdue_decodes(self) -> List[Tuple[int, int]]:
        """``(worker id, index)`` of the worker decodes past the deadline."""
        state = self._bad_state
        deadline = getattr(self, 'decode_deadline', None)
        if state is None or not deadline:
            return []
        return [(w, i) for w, i, _ in state.clock.overdue(deadline)]

    def decode_timed_out(self, idx: int) -> DecodeDeadlineError:
        """The error of sample ``idx``, whose decode a watchdog found past
        the deadline; with ``'skip'`` the video is also marked bad (never
        opened again) and logged once."""
        err = DecodeDeadlineError.of(self._path(idx), self.decode_deadline)
        if self.on_bad_video == 'skip':
            self._mark_bad(idx, err)
        return err

    def forget_decodes(self) -> None:
        """Clear the decode records (the workers that wrote them are
        gone)."""
        if self._bad_state is not None:
            self._bad_state.clock.clear()

    # -- the policy -----------------------------------------------------
    def _mark_bad(self, idx: int, err: Exception) -> None:
        if self._bad_state.mark_bad(idx):
            print_log(
                f'skipping a video that cannot be used '
                f"(on_bad_video='skip'): {err}",
                logger='current',
                level=30,
            )

    def pop_skip_count(self) -> int:
        """Samples replaced since the last call (all worker processes)."""
        state = self._bad_state
        return 0 if state is None else state.pop_skips()

    def bad_indices(self) -> list:
        """Indices of the videos found unusable so far."""
        state = self._bad_state
        return (
            []
            if state is None
            else [i for i, b in enumerate(state.bad[: len(self)]) if b]
        )

    def __getitem__(self, idx):
        """mmengine ``BaseDataset``'s refetch loop, plus the skip policy.

        A pipeline that returns None moves on to the next index (up to
        ``max_refetch`` times, as mmengine's limit); an unusable video
        raises, or with ``'skip'`` is marked and replaced by the next usable
        index.
        """
        if not self._fully_initialized:
            self.full_init()
        seed = getattr(idx, 'seed', None)
        idx = int(idx)
        n = len(self)
        state = self._bad_state
        fresh_failures, first_error = 0, None
        refetch = 0
        for step in range(n):
            cand = (idx + step) % n
            if self.on_bad_video == 'skip' and state.bad[cand]:
                continue
            try:
                with seeded_rng(seed), self._decoding(cand):
                    data = self._prepare_checked(cand)
            except VideoReadError as err:
                if self.on_bad_video == 'raise':
                    raise
                self._mark_bad(cand, err)
                first_error = first_error or err
                fresh_failures += 1
                if fresh_failures >= MAX_CONSECUTIVE_BAD:
                    raise InputError(
                        f'{fresh_failures} videos in a row cannot be used '
                        f'(first: {first_error}); check data_root and '
                        'data_prefix, or run tools/preflight.py'
                    ) from None
                continue
            if data is None:  # a transform dropped it (mmengine's rule)
                if self.test_mode or refetch >= self.max_refetch:
                    raise InputError(
                        f'the pipeline returned no data for '
                        f'sample {cand} ({refetch} refetches)'
                    )
                refetch += 1
                continue
            if cand != idx:
                state.count_skip()
            return data
        raise InputError(
            f'no usable video among the {n} of this dataset '
            f'(first error: {first_error})'
        )
