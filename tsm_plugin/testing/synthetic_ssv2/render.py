"""Frames of one video: a shape drawn by its signed distance on a background.

Every draw from the video's generator happens in a fixed order (object,
track, background, then the grain of each textured frame as it is
rendered), so the same generator gives the same frames.
"""

from typing import Iterator, NamedTuple, Tuple

import numpy as np

from .motions import Motion, Track, track

SHAPES = ('disc', 'square', 'triangle', 'diamond', 'bar')
COLOURS = {
    'red': (220, 40, 40),
    'green': (40, 180, 60),
    'blue': (40, 80, 220),
    'yellow': (235, 210, 40),
    'purple': (150, 50, 190),
    'cyan': (40, 200, 210),
    'white': (245, 245, 245),
    'black': (25, 25, 25),
    'pink': (240, 120, 180),
    'orange': (245, 140, 20),
}
_SKIN = np.array((214, 160, 120), np.float32)


class SceneObject(NamedTuple):
    """The moving object and the hand's colour."""

    shape: str
    colour: np.ndarray
    radius: float
    marker: np.ndarray  # an off-centre dot that shows the rotation
    skin: np.ndarray


def _smooth_noise(
    rng: np.random.Generator, h: int, w: int, cell: float
) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bot = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bot * fy).astype(np.float32)


class Background:
    """A muted plain/mildly textured background, or a rich moving texture."""

    def __init__(
        self, rng: np.random.Generator, h: int, w: int, textured: bool
    ):
        self.h, self.w, self.textured = h, w, textured
        base = rng.uniform(70, 185) + rng.uniform(-25, 25, 3)
        grad = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
        self.static = (base + rng.uniform(5, 15) * grad).astype(np.float32)
        self.static = np.broadcast_to(self.static, (h, w, 3)).copy()
        if not textured:
            if rng.random() < 0.5:  # a mild, static texture
                self.static += 10 * _smooth_noise(rng, h, w, h / 6)[..., None]
            return
        # A texture 1.5x the frame, panned with a random drift, plus grain:
        # decoding then costs about what real footage costs.
        th, tw = int(h * 1.5) + 2, int(w * 1.5) + 2
        tex = sum(
            a * _smooth_noise(rng, th, tw, c)
            for a, c in ((30, h / 4), (18, h / 16), (10, 2))
        )
        tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
        self.texture = tex[..., None] * tint
        self.drift = rng.uniform(-1.5, 1.5, 2) * h / 240  # px per frame
        self.origin = rng.uniform(0, 0.25, 2) * (th, tw)
        self.rng = rng

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as float32 RGB (a new array)."""
        if not self.textured:
            return self.static.copy()
        th, tw = self.texture.shape[:2]
        oy = int(self.origin[0] + self.drift[0] * t) % (th - self.h)
        ox = int(self.origin[1] + self.drift[1] * t) % (tw - self.w)
        grain = self.rng.normal(0, 4, (self.h, self.w, 1)).astype(np.float32)
        return (
            self.static
            + self.texture[oy : oy + self.h, ox : ox + self.w]
            + grain
        )


def sdf(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (in radii) of a unit-size shape in local coords."""
    if shape == 'disc':
        return np.sqrt(u * u + v * v) - 1
    if shape == 'square':
        return np.maximum(np.abs(u), np.abs(v)) - 0.82
    if shape == 'diamond':
        return (np.abs(u) + np.abs(v) - 1.1) / np.sqrt(2)
    if shape == 'bar':
        return np.maximum(np.abs(u) - 1.05, np.abs(v) - 0.45)
    # triangle pointing along -v
    return np.maximum(v - 0.55, (np.sqrt(3) * np.abs(u) - v) / 2 - 0.55)


def _blend(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    a = alpha[..., None]
    img *= 1 - a
    img += a * colour


def render_frame(
    bg: Background,
    obj: SceneObject,
    tr: Track,
    t: int,
    xx: np.ndarray,
    yy: np.ndarray,
) -> np.ndarray:
    """Frame ``t`` as uint8 RGB (``xx``, ``yy``: pixel-centre coordinates)."""
    frame = bg.frame(t)
    r = obj.radius
    cx, cy, ang = tr.x[t], tr.y[t], tr.angle[t]
    if tr.wrap is not None:  # a stream: wrap into [start, start + period)
        axis, start, period = tr.wrap
        if axis == 'x':
            cx = start + np.mod(cx, period)
        else:
            cy = start + np.mod(cy, period)
    # Draw in the box the object and the hand can cover (every shape lies
    # within 1.2 radii of its centre, the hand reaches 1.5 up): outside it
    # all alphas are 0, so the frame is the same, at a fraction of the cost.
    h, w = frame.shape[:2]
    x0, x1 = max(0, int(cx - 1.3 * r) - 2), min(w, int(cx + 1.3 * r) + 3)
    y0, y1 = max(0, int(cy - 1.6 * r) - 2), min(h, int(cy + 1.3 * r) + 3)
    img = frame[y0:y1, x0:x1]  # empty when out of view (a stream)
    dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
    c, s = np.cos(ang), np.sin(ang)
    u, v = (c * dx + s * dy) / r, (-s * dx + c * dy) / r
    _blend(img, np.clip(0.5 - sdf(obj.shape, u, v) * r, 0, 1), obj.colour)
    # an off-centre marker makes every shape's rotation visible
    mu, mv = u - 0.45, v
    _blend(
        img,
        np.clip(0.5 - (np.sqrt(mu * mu + mv * mv) - 0.28) * r, 0, 1),
        obj.marker,
    )
    if tr.hand:  # the same "hand" on top of the object in every class
        hu, hv = dx / (0.75 * r), (dy + 1.05 * r) / (0.45 * r)
        dist = (np.sqrt(hu * hu + hv * hv) - 1) * 0.45 * r
        _blend(img, np.clip(0.5 - dist, 0, 1), obj.skin)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def render_video(
    kind: Motion,
    rng: np.random.Generator,
    n: int,
    seconds: float,
    h: int,
    w: int,
    textured: bool,
) -> Tuple[Iterator[np.ndarray], str]:
    """Frames (lazily) and the placeholder name of one video.

    Returns:
        tuple: an iterator of ``n`` uint8 ``(h, w, 3)`` frames and the
        object's name (``'<colour> <shape>'``).
    """
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour_name = list(COLOURS)[rng.integers(len(COLOURS))]
    colour = np.array(COLOURS[colour_name], np.float32)
    colour = np.clip(colour + rng.uniform(-15, 15, 3), 0, 255)
    bright = colour @ np.array((0.3, 0.59, 0.11)) > 128
    radius = rng.uniform(0.15, 0.2) * h
    skin = _SKIN + rng.uniform(-20, 20, 3).astype(np.float32)
    obj = SceneObject(
        shape=shape,
        colour=colour,
        radius=radius,
        marker=np.full(3, 30.0 if bright else 235.0, np.float32),
        skin=skin,
    )
    tr = track(kind, rng, n, seconds, h, w, obj.radius)
    bg = Background(rng, h, w, textured)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    frames = (render_frame(bg, obj, tr, t, xx, yy) for t in range(n))
    return frames, f'{colour_name} {shape}'
