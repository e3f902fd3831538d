"""A synthetic Something-Something V2 set, written in the official layout.

Real VP9 ``.webm`` videos and the four SSv2 JSON files, so everything that
reads SSv2 (:class:`~tsm_plugin.datasets.SSv2Dataset`, the decoders, the
tools) runs unchanged on it::

    OUT/20bn-something-something-v2/<id>.webm
    OUT/labels/labels.json        {"Moving something down": "1", ...}
    OUT/labels/train.json         [{"id", "label", "template", "placeholders"}]
    OUT/labels/validation.json    same fields
    OUT/labels/test.json          [{"id"}]

The eight classes are real SSv2 templates whose meaning lies in time, so a
single frame cannot tell them apart:

* two direction pairs (pushing left to right / right to left, moving up /
  down): a held object (a skin-coloured "hand" on top of it, the same in
  all four classes) moves one way or the other;
* two speed pairs that carry Temporal Frequency Deviation (FFN,
  https://arxiv.org/abs/2303.14817), as SSv2's speed classes do: "falling
  like a rock" versus "falling like a feather or paper" (top to bottom), and
  "Throwing" versus "Letting ... roll along a flat surface" (either way
  across, turning as it goes). Each is a stream: the object crosses the frame
  at a constant speed the whole clip, and the next comes in as it leaves.
  The fast class moves about 4x as far per frame as the slow one, and
  nothing else differs: nothing stops, and positions are uniform. A TSM
  trained at 16 frames that is shown 4 (4x the motion between sampled
  frames) sees the slow class move like the fast one.

Motions are defined in seconds, so the frame rate sets the motion per frame.
Shape, colour, size, position, timing and background are drawn per video
from a generator seeded by ``(seed, video index)``: the same seed gives the
same JSON and the same decoded frames (the encoder runs single-threaded and
the muxer bit-exact, so the files are byte-identical too).
"""
import json
import os
import os.path as osp
import shutil
from multiprocessing import get_all_start_methods, get_context
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

VIDEO_DIR = '20bn-something-something-v2'
LABEL_DIR = 'labels'

# Template -> motion. Real SSv2 templates (labels.json keys without brackets).
TEMPLATES: Dict[str, str] = {
    'Pushing [something] from left to right': 'push_lr',
    'Pushing [something] from right to left': 'push_rl',
    'Moving [something] up': 'move_up',
    'Moving [something] down': 'move_down',
    '[Something] falling like a rock': 'rock',
    '[Something] falling like a feather or paper': 'feather',
    'Throwing [something]': 'throw',
    'Letting [something] roll along a flat surface': 'roll',
}

_SHAPES = ('disc', 'square', 'triangle', 'diamond', 'bar')
_COLOURS = {
    'red': (220, 40, 40), 'green': (40, 180, 60), 'blue': (40, 80, 220),
    'yellow': (235, 210, 40), 'purple': (150, 50, 190),
    'cyan': (40, 200, 210), 'white': (245, 245, 245), 'black': (25, 25, 25),
    'pink': (240, 120, 180), 'orange': (245, 140, 20),
}
_SKIN = np.array((214, 160, 120), np.float32)


def label_name(template: str) -> str:
    """The labels.json key of a template: the template without brackets."""
    return template.replace('[', '').replace(']', '')


def fill_template(template: str, placeholders: Sequence[str]) -> str:
    """The filled-in sentence SSv2 stores as ``label`` (lower-case start)."""
    out = template
    for word in placeholders:
        start = out.index('[')
        out = out[:start] + word + out[out.index(']', start) + 1:]
    return out[:1].lower() + out[1:]


# --------------------------------------------------------------------------
# motions: per-frame centre (x, y in pixels), angle (rad), hand, wrap
# --------------------------------------------------------------------------
def _ease(s: np.ndarray) -> np.ndarray:
    """Smoothstep: a hand starts and stops a move gently."""
    s = np.clip(s, 0, 1)
    return s * s * (3 - 2 * s)


def _window(rng, tau, start: Tuple[float, float], dur: Tuple[float, float]):
    """Progress in [0, 1] over a random window of the normalised time."""
    t0 = rng.uniform(*start)
    d = min(rng.uniform(*dur), 1 - t0)
    return np.clip((tau - t0) / d, 0, 1)


def _track(kind: str, rng: np.random.Generator, n: int, seconds: float,
           h: int, w: int, r: float) -> dict:
    tau = np.linspace(0, 1, n)
    x = np.full(n, rng.uniform(r + 0.1 * w, w - r - 0.1 * w))
    y = np.full(n, rng.uniform(0.35 * h, 0.7 * h))
    angle = np.full(n, rng.uniform(0, 2 * np.pi))
    hand = kind in ('push_lr', 'push_rl', 'move_up', 'move_down')
    wrap = None
    if kind in ('push_lr', 'push_rl'):
        a, b = rng.uniform(0.15, 0.3) * w, rng.uniform(0.7, 0.85) * w
        if kind == 'push_rl':
            a, b = w - a, w - b
        x = a + (b - a) * _ease(_window(rng, tau, (0, .3), (.45, .7)))
    elif kind in ('move_up', 'move_down'):
        a, b = rng.uniform(0.2, 0.35) * h, rng.uniform(0.65, 0.8) * h
        if kind == 'move_up':
            a, b = b, a
        y = a + (b - a) * _ease(_window(rng, tau, (0, .3), (.45, .7)))
    elif kind in ('rock', 'feather', 'throw', 'roll'):
        # A stream at a constant speed for the whole clip: the object leaves
        # the frame and the next comes in on the other side (the position
        # wraps), so positions are uniform in both classes of a pair and
        # nothing ever stops; only the speed differs, in frame lengths per
        # second. Thrown and rolled objects go either way and turn as they
        # go (rolling: angle = distance / radius).
        falls = kind in ('rock', 'feather')
        period = (h if falls else w) + 2.5 * r  # 1.2 r out of view each side
        fast = kind in ('rock', 'throw')
        speed = rng.uniform(*((1.2, 1.5) if fast else (.3, .375))) * period
        pos = rng.uniform(0, period) + speed * seconds * tau  # unwrapped
        if falls:
            y = pos
        else:
            sign = rng.choice((-1, 1))
            x, angle = sign * pos, angle + sign * pos / r
        wrap = ('y' if falls else 'x', -1.25 * r, period)
    else:
        raise ValueError(f'unknown motion {kind!r}')
    return dict(x=x, y=y, angle=angle, hand=hand, wrap=wrap)


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------
def _smooth_noise(rng, h: int, w: int, cell: float) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bot = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bot * fy).astype(np.float32)


class _Background:
    """A muted plain/mildly textured background, or a rich moving texture."""

    def __init__(self, rng, h: int, w: int, textured: bool):
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
        tex = sum(a * _smooth_noise(rng, th, tw, c)
                  for a, c in ((30, h / 4), (18, h / 16), (10, 2)))
        tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
        self.texture = tex[..., None] * tint
        self.drift = rng.uniform(-1.5, 1.5, 2) * h / 240  # px per frame
        self.origin = rng.uniform(0, 0.25, 2) * (th, tw)
        self.rng = rng

    def frame(self, t: int) -> np.ndarray:
        if not self.textured:
            return self.static.copy()
        th, tw = self.texture.shape[:2]
        oy = int(self.origin[0] + self.drift[0] * t) % (th - self.h)
        ox = int(self.origin[1] + self.drift[1] * t) % (tw - self.w)
        grain = self.rng.normal(0, 4, (self.h, self.w, 1)).astype(np.float32)
        return (self.static + self.texture[oy:oy + self.h, ox:ox + self.w] +
                grain)


def _sdf(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
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


def _blend(img, alpha, colour):
    a = alpha[..., None]
    img *= 1 - a
    img += a * colour


def _render(bg: _Background, obj: dict, tr: dict, t: int, xx, yy):
    frame = bg.frame(t)
    r = obj['radius']
    cx, cy, ang = tr['x'][t], tr['y'][t], tr['angle'][t]
    if tr['wrap'] is not None:  # a stream: wrap into [start, start + period)
        axis, start, period = tr['wrap']
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
    _blend(img, np.clip(0.5 - _sdf(obj['shape'], u, v) * r, 0, 1),
           obj['colour'])
    # an off-centre marker makes every shape's rotation visible
    mu, mv = u - 0.45, v
    _blend(img, np.clip(0.5 - (np.sqrt(mu * mu + mv * mv) - 0.28) * r, 0, 1),
           obj['marker'])
    if tr['hand']:  # the same "hand" on top of the object in every class
        hu, hv = dx / (0.75 * r), (dy + 1.05 * r) / (0.45 * r)
        dist = (np.sqrt(hu * hu + hv * hv) - 1) * 0.45 * r
        _blend(img, np.clip(0.5 - dist, 0, 1), obj['skin'])
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def _render_video(kind: str, rng: np.random.Generator, n: int,
                  seconds: float, h: int, w: int,
                  textured: bool) -> Tuple[Iterator[np.ndarray], str]:
    """Frames (lazily) and the placeholder name of one video."""
    shape = _SHAPES[rng.integers(len(_SHAPES))]
    colour_name = list(_COLOURS)[rng.integers(len(_COLOURS))]
    colour = np.array(_COLOURS[colour_name], np.float32)
    colour = np.clip(colour + rng.uniform(-15, 15, 3), 0, 255)
    bright = colour @ np.array((0.3, 0.59, 0.11)) > 128
    radius = rng.uniform(0.15, 0.2) * h
    obj = dict(
        shape=shape, colour=colour,
        radius=radius,
        marker=np.full(3, 30. if bright else 235., np.float32),
        skin=_SKIN + rng.uniform(-20, 20, 3).astype(np.float32))
    tr = _track(kind, rng, n, seconds, h, w, obj['radius'])
    bg = _Background(rng, h, w, textured)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    frames = (_render(bg, obj, tr, t, xx, yy) for t in range(n))
    return frames, f'{colour_name} {shape}'


def write_webm(path: str, frames, fps: int, width: int, height: int) -> int:
    """Encode RGB uint8 frames as VP9 ``.webm`` (fast, deterministic).

    Returns:
        int: the number of frames written.
    """
    import av
    from av.codec.context import Flags
    tmp = path + '.part'
    count = 0
    with av.open(tmp, 'w', format='webm',
                 container_options={'fflags': '+bitexact'}) as out:
        stream = out.add_stream(
            'libvpx-vp9', rate=fps,
            options={'deadline': 'realtime', 'cpu-used': '8', 'threads': '1',
                     'row-mt': '0', 'lag-in-frames': '0'})
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        stream.thread_count = 1
        stream.codec_context.flags |= Flags.bitexact
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode())
    os.replace(tmp, path)
    return count


def _make_one(job: tuple) -> Tuple[str, str]:
    """Render and encode one video; returns (id, placeholder)."""
    (vid, kind, seed, index, video_dir, h, w, fps, lo, hi, textured) = job
    rng = np.random.default_rng([seed, index])
    seconds = rng.uniform(lo, hi)
    n = max(2, int(round(seconds * fps)))
    frames, name = _render_video(kind, rng, n, seconds, h, w, textured)
    write_webm(osp.join(video_dir, f'{vid}.webm'), frames, fps, w, h)
    return vid, name


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        yield from iterable
        return
    try:
        from tqdm import tqdm
    except ImportError:  # mmengine is always there
        from mmengine.utils import ProgressBar
        bar = ProgressBar(total)
        for item in iterable:
            bar.update()
            yield item
        return
    yield from tqdm(iterable, total=total, desc='synthetic SSv2',
                    unit='video')


def make_synthetic_ssv2(out_dir: str,
                        num_train_per_class: int = 48,
                        num_val_per_class: int = 10,
                        num_test_per_class: int = 2,
                        height: int = 72,
                        width: Optional[int] = None,
                        fps: int = 12,
                        min_seconds: float = 2.0,
                        max_seconds: float = 4.0,
                        seed: int = 0,
                        textured: bool = False,
                        overwrite: bool = False,
                        workers: int = 1,
                        progress: bool = True) -> dict:
    """Write a synthetic SSv2-format set (see the module docstring).

    Args:
        out_dir (str): The set's root (the folder holding ``labels/`` and
            ``20bn-something-something-v2/``), as ``data_root`` in configs.
        num_train_per_class (int): Training videos per class.
        num_val_per_class (int): Validation videos per class.
        num_test_per_class (int): Unlabelled test videos per class.
        height (int): Frame height (even). SSv2 is 240.
        width (int, optional): Frame width (even); ``None`` gives 4:3.
        fps (int): Frame rate. SSv2 is about 12.
        min_seconds (float): Shortest clip. SSv2 clips last 2-6 s.
        max_seconds (float): Longest clip.
        seed (int): Same seed, same JSON and same decoded frames.
        textured (bool): A rich moving-noise background whose decoding costs
            about what real footage costs (for benchmarks).
        overwrite (bool): Replace an existing set in ``out_dir``.
        workers (int): Encoding processes (1 = in this process).
        progress (bool): Show a progress bar.

    Returns:
        dict: ``root``, ``video_dir``, ``label_file``, ``train``,
        ``validation``, ``test`` (paths), ``num_classes`` and ``counts``
        (videos per split).

    Raises:
        ValueError: a bad size, duration or count.
        FileExistsError: ``out_dir`` already holds a set and not
            ``overwrite``.
    """
    from mmengine.logging import print_log
    width = width or int(round(height * 4 / 3 / 2)) * 2
    if height < 16 or width < 16 or height % 2 or width % 2:
        raise ValueError(f'height and width must be even and >= 16, got '
                         f'{height}x{width}')
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(f'need 0 < min_seconds <= max_seconds, got '
                         f'{min_seconds}, {max_seconds}')
    counts = dict(train=num_train_per_class, validation=num_val_per_class,
                  test=num_test_per_class)
    if min(counts.values()) < 0 or fps < 1:
        raise ValueError(f'counts and fps must be >= 0 / >= 1, got {counts}, '
                         f'fps={fps}')
    video_dir = osp.join(out_dir, VIDEO_DIR)
    label_dir = osp.join(out_dir, LABEL_DIR)
    if osp.exists(label_dir) or osp.exists(video_dir):
        if not overwrite:
            raise FileExistsError(f'{out_dir} already holds a set (use '
                                  'overwrite / --overwrite to replace it)')
        shutil.rmtree(label_dir, ignore_errors=True)
        shutil.rmtree(video_dir, ignore_errors=True)
    os.makedirs(video_dir)
    os.makedirs(label_dir)

    templates = list(TEMPLATES)
    labels = {name: str(i) for i, name in
              enumerate(sorted(label_name(t) for t in templates))}
    # One job per video: class-balanced, shuffled, unique SSv2-like ids.
    rng = np.random.default_rng(seed)
    plan: List[Tuple[str, str]] = [(split, t) for split, k in counts.items()
                                   for t in templates for _ in range(k)]
    total = len(plan)
    ids = rng.permutation(max(220000, 2 * total))[:total] + 1
    order = rng.permutation(total)
    jobs = []
    for index, pos in enumerate(order):
        split, template = plan[pos]
        jobs.append((str(ids[index]), TEMPLATES[template], seed, index,
                     video_dir, height, width, fps, min_seconds, max_seconds,
                     textured))

    if workers > 1 and total > 1:
        # fork: the workers need nothing but numpy and PyAV (spawn would
        # re-import mmaction in each, seconds per worker).
        method = 'fork' if 'fork' in get_all_start_methods() else 'spawn'
        with get_context(method).Pool(workers) as pool:
            done = list(_progress(pool.imap(_make_one, jobs, chunksize=4),
                                  total, progress))
    else:
        done = list(_progress(map(_make_one, jobs), total, progress))

    splits: Dict[str, list] = {name: [] for name in counts}
    for (vid, name), pos in zip(done, order):
        split, template = plan[pos]
        if split == 'test':
            splits[split].append({'id': vid})
        else:
            splits[split].append({
                'id': vid,
                'label': fill_template(template, [name]),
                'template': template,
                'placeholders': [name],
            })
    paths = dict(root=out_dir, video_dir=video_dir,
                 label_file=osp.join(label_dir, 'labels.json'))
    with open(paths['label_file'], 'w') as f:
        json.dump(labels, f, indent=1)
    for split, items in splits.items():
        paths[split] = osp.join(label_dir, f'{split}.json')
        with open(paths[split], 'w') as f:
            json.dump(items, f, indent=1)
    print_log(
        f'synthetic SSv2: {total} videos ({counts}) of {len(templates)} '
        f'classes, {height}x{width} at {fps} fps, in {out_dir}',
        logger='current')
    return dict(paths, num_classes=len(templates),
                counts={k: len(v) for k, v in splits.items()})
