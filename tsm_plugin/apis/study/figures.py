"""The study as a plot (``study.png``: top-1 against the frame count, a
curve per shown row, in the TFD plots' style) and as TensorBoard scalars
(``<out>/tensorboard/``: ``study/top1/<row>`` and ``study/gflops/<row>``
with the frame count as their step)."""

import glob
import os
import os.path as osp
from typing import Optional

from ...evaluation.plots import PLOT_DPI, PLOT_SIZE, save_png

LEGEND_FONT = 7  # up to ~15 rows beside their curves


def plot_study(table: dict, path: Optional[str]):
    """Save top-1 against K, a curve per row, as a 600 x 400 PNG (``path``
    None: return the figure). A per_frames row is drawn where it has
    values, dashed."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PLOT_SIZE, dpi=PLOT_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # 20 distinct colours: a study's rows outnumber the default cycle's 10
    ax.set_prop_cycle(color=colormaps['tab20'].colors)
    for row in table['rows']:
        points = [
            (int(k), r['top1'])
            for k, r in sorted(row['results'].items(), key=lambda i: int(i[0]))
        ]
        if not points:
            continue
        ax.plot(
            *zip(*points),
            'o--' if row['kind'] == 'per_frames' else 'o-',
            markersize=3,
            label=row['name'],
        )
    ax.set_xticks(sorted(table['frames']))
    ax.margins(x=0.05, y=0.1)
    ax.set_xlabel('frames at test')
    ax.set_ylabel('top-1 (%)')
    ax.set_title('Top-1 against the frame count')
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(loc='best', fontsize=LEGEND_FONT)
    return save_png(fig, path)


def tag(name: str) -> str:
    """A row name as one TensorBoard tag level (``/`` groups tags)."""
    return name.replace('/', '_')


def write_tensorboard(table: dict, log_dir: str) -> str:
    """The rows' top-1 and GFLOPs at each K as scalars (step K); the
    study's earlier event files there are replaced. Returns ``log_dir``."""
    from torch.utils.tensorboard import SummaryWriter

    os.makedirs(log_dir, exist_ok=True)
    for old in glob.glob(osp.join(glob.escape(log_dir), 'events.out.*')):
        os.remove(old)
    writer = SummaryWriter(log_dir=log_dir)
    try:
        for row in table['rows']:
            for k, r in row['results'].items():
                writer.add_scalar(
                    f'study/top1/{tag(row["name"])}', r['top1'], int(k)
                )
                if r.get('gflops') is not None:
                    writer.add_scalar(
                        f'study/gflops/{tag(row["name"])}', r['gflops'], int(k)
                    )
    finally:
        writer.close()
    return log_dir
