"""The TFD sweep as PNG images (matplotlib's Agg canvas, written atomically).

``tfd.png``: top-1 against the frame count evaluated, with the trained frame
count marked (FFN, https://arxiv.org/abs/2303.14817, Fig. 1);
``tfd_classes.png``: the classes that lose most (:mod:`.per_class`);
``compare.png``: one curve per model.
"""

from typing import List, Optional

from ..utils.atomic import AtomicFile
from .per_class import TOP_CLASSES, classes_lost_most, drop_counts
from .tables import model_name

PLOT_SIZE = (6.0, 4.0)  # inches
PLOT_DPI = 100  # -> 600 x 400 pixels
CLASS_PLOT_SIZE = (9.0, 5.0)  # inches: room for SSv2's long class names


def _axes():
    """A 600 x 400 figure on matplotlib's Agg canvas (no display, and the
    caller's global backend untouched), and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PLOT_SIZE, dpi=PLOT_DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _label_points(ax, frames, top1, fontsize: int = 8) -> None:
    for f, t in zip(frames, top1):
        ax.annotate(
            f'{t:.1f}',
            (f, t),
            textcoords='offset points',
            xytext=(0, 7),
            ha='center',
            fontsize=fontsize,
        )


def _finish(fig, ax, ticks, title: str, path: Optional[str]):
    """Axes labels, grid and legend; save ``path`` atomically (``None``:
    return the figure)."""
    ax.margins(x=0.08, y=0.15)  # room for the value labels
    ax.set_xticks(sorted(ticks))
    ax.set_xlabel('frames at test')
    ax.set_ylabel('top-1 (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    return save_png(fig, path)


def save_png(fig, path: Optional[str]):
    """Save ``fig`` as a PNG at ``path`` atomically and return the path;
    ``path=None``: return the figure."""
    fig.tight_layout()
    if path is None:
        return fig
    with AtomicFile(path, 'wb') as f:
        fig.savefig(f, dpi=PLOT_DPI, format='png')
    return path


def rgb(fig):
    """A figure as an ``H x W x 3`` uint8 array (for a visualizer)."""
    import numpy as np

    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def plot_top1(report: dict, path: Optional[str]):
    """Save top-1 vs frame count (trained count marked) as a PNG.

    The image is ``PLOT_SIZE * PLOT_DPI`` pixels (600 x 400). ``path=None``
    returns the figure instead.
    """
    trained = report['trained_frames']
    frames = [r['frames'] for r in report['results']]
    top1 = [100 * r['top1'] for r in report['results']]
    fig, ax = _axes()
    ax.plot(frames, top1, 'o-', color='tab:blue', label='evaluated')
    ax.axvline(
        trained,
        color='tab:red',
        linestyle='--',
        linewidth=1,
        label=f'trained at {trained} frames',
    )
    for f, t in zip(frames, top1):
        if f == trained:
            ax.plot([f], [t], marker='*', markersize=14, color='tab:red')
    _label_points(ax, frames, top1)
    return _finish(
        fig, ax, set(frames) | {trained}, 'Temporal Frequency Deviation', path
    )


def plot_classes(report: dict, path: Optional[str], k: int = TOP_CLASSES):
    """Save the classes that lose most as horizontal bars (top-1 at the
    trained and at the smallest frame count), largest drop on top.

    The image is ``CLASS_PLOT_SIZE * PLOT_DPI`` pixels (900 x 500).
    ``path=None`` returns the figure instead.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    high, low = drop_counts(report)
    lost = classes_lost_most(report, k)[::-1]  # barh draws bottom-up
    fig = Figure(figsize=CLASS_PLOT_SIZE, dpi=PLOT_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(lost)))
    labels = [
        (c['name'] or f'class {c["class"]}')[:48] + f' ({c["class"]})'
        for c in lost
    ]
    ax.barh(
        [y + 0.2 for y in ys],
        [100 * c['top1_from'] for c in lost],
        height=0.4,
        color='tab:blue',
        label=f'{high} frames',
    )
    ax.barh(
        [y - 0.2 for y in ys],
        [100 * c['top1_to'] for c in lost],
        height=0.4,
        color='tab:red',
        label=f'{low} frames',
    )
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel('top-1 (%)')
    ax.set_title(f'Classes that lose most top-1: {high} -> {low} frames')
    if not lost:
        ax.text(50, 0, 'no class loses', ha='center', va='center')
    ax.grid(axis='x', alpha=0.3)
    ax.legend(loc='best', fontsize=8)  # clear of the bars
    return save_png(fig, path)


def plot_compare(reports: List[dict], path: str) -> str:
    """Save one top-1 vs frames curve per model as a PNG (600 x 400)."""
    fig, ax = _axes()
    ticks = set()
    for rep in reports:
        frames = [r['frames'] for r in rep['results']]
        top1 = [100 * r['top1'] for r in rep['results']]
        ticks.update(frames)
        ax.plot(frames, top1, 'o-', label=model_name(rep))
        _label_points(ax, frames, top1, fontsize=7)
    return _finish(fig, ax, ticks, 'Top-1 against the frame count', path)
