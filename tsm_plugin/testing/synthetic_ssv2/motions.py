"""The eight classes' motions: per-frame centre, angle, hand and wrap.

A track is drawn from a per-video generator; the order of its draws is part
of the set's definition (the same seed gives the same videos), so a change
here changes every video.
"""

import enum
from typing import Dict, NamedTuple, Optional, Tuple, Union

import numpy as np


class Motion(str, enum.Enum):
    """What the object does in a class (the value names it in code)."""

    PUSH_LR = 'push_lr'
    PUSH_RL = 'push_rl'
    MOVE_UP = 'move_up'
    MOVE_DOWN = 'move_down'
    ROCK = 'rock'
    FEATHER = 'feather'
    THROW = 'throw'
    ROLL = 'roll'


# A hand on top of the object moves it one way or the other.
HELD = frozenset(
    (Motion.PUSH_LR, Motion.PUSH_RL, Motion.MOVE_UP, Motion.MOVE_DOWN)
)
# Streams at a constant speed: the fast class of a pair moves about 4x as
# far per frame as the slow one.
FALLING = frozenset((Motion.ROCK, Motion.FEATHER))
FAST = frozenset((Motion.ROCK, Motion.THROW))

# Template -> motion. Real SSv2 templates (labels.json keys without brackets).
TEMPLATES: Dict[str, Motion] = {
    'Pushing [something] from left to right': Motion.PUSH_LR,
    'Pushing [something] from right to left': Motion.PUSH_RL,
    'Moving [something] up': Motion.MOVE_UP,
    'Moving [something] down': Motion.MOVE_DOWN,
    '[Something] falling like a rock': Motion.ROCK,
    '[Something] falling like a feather or paper': Motion.FEATHER,
    'Throwing [something]': Motion.THROW,
    'Letting [something] roll along a flat surface': Motion.ROLL,
}


class Wrap(NamedTuple):
    """A stream's position wraps into ``[start, start + period)``."""

    axis: str  # 'x' or 'y'
    start: float
    period: float


class Track(NamedTuple):
    """Per-frame centre (pixels) and angle (radians) of the object."""

    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    hand: bool  # draw the hand on top of the object
    wrap: Optional[Wrap]  # None: the centre is drawn where it is


def _ease(s: np.ndarray) -> np.ndarray:
    """Smoothstep: a hand starts and stops a move gently."""
    s = np.clip(s, 0, 1)
    return s * s * (3 - 2 * s)


def _window(
    rng: np.random.Generator,
    tau: np.ndarray,
    start: Tuple[float, float],
    dur: Tuple[float, float],
) -> np.ndarray:
    """Progress in [0, 1] over a random window of the normalised time."""
    t0 = rng.uniform(*start)
    d = min(rng.uniform(*dur), 1 - t0)
    return np.clip((tau - t0) / d, 0, 1)


def track(
    kind: Union[Motion, str],
    rng: np.random.Generator,
    n: int,
    seconds: float,
    h: int,
    w: int,
    r: float,
) -> Track:
    """The track of one video.

    Args:
        kind (Motion | str): The class's motion.
        rng (np.random.Generator): The video's generator.
        n (int): Frames.
        seconds (float): Duration (motions are defined in seconds).
        h (int): Frame height.
        w (int): Frame width.
        r (float): Object radius in pixels.

    Returns:
        Track: per-frame ``x``, ``y``, ``angle``; ``hand``; ``wrap``.
    """
    kind = Motion(kind)
    tau = np.linspace(0, 1, n)
    x = np.full(n, rng.uniform(r + 0.1 * w, w - r - 0.1 * w))
    y = np.full(n, rng.uniform(0.35 * h, 0.7 * h))
    angle = np.full(n, rng.uniform(0, 2 * np.pi))
    wrap = None
    if kind in (Motion.PUSH_LR, Motion.PUSH_RL):
        a, b = rng.uniform(0.15, 0.3) * w, rng.uniform(0.7, 0.85) * w
        if kind == Motion.PUSH_RL:
            a, b = w - a, w - b
        x = a + (b - a) * _ease(_window(rng, tau, (0, 0.3), (0.45, 0.7)))
    elif kind in (Motion.MOVE_UP, Motion.MOVE_DOWN):
        a, b = rng.uniform(0.2, 0.35) * h, rng.uniform(0.65, 0.8) * h
        if kind == Motion.MOVE_UP:
            a, b = b, a
        y = a + (b - a) * _ease(_window(rng, tau, (0, 0.3), (0.45, 0.7)))
    else:
        # A stream at a constant speed for the whole clip: the object leaves
        # the frame and the next comes in on the other side (the position
        # wraps), so positions are uniform in both classes of a pair and
        # nothing ever stops; only the speed differs, in frame lengths per
        # second. Thrown and rolled objects go either way and turn as they
        # go (rolling: angle = distance / radius).
        falls = kind in FALLING
        period = (h if falls else w) + 2.5 * r  # 1.2 r out of view each side
        fast = kind in FAST
        speed = rng.uniform(*((1.2, 1.5) if fast else (0.3, 0.375))) * period
        pos = rng.uniform(0, period) + speed * seconds * tau  # unwrapped
        if falls:
            y = pos
        else:
            sign = rng.choice((-1, 1))
            x, angle = sign * pos, angle + sign * pos / r
        wrap = Wrap('y' if falls else 'x', -1.25 * r, period)
    return Track(x=x, y=y, angle=angle, hand=kind in HELD, wrap=wrap)
