"""TFD outputs: ``tfd.json``, a Markdown table (``tfd.md``) and ``tfd.png``.

The plot is top-1 against the frame count evaluated, with the trained frame
count marked (FFN, https://arxiv.org/abs/2303.14817, Fig. 1).
"""

import os
import os.path as osp
from typing import Dict, List

from ..utils.atomic import AtomicFile, atomic_write, write_json

PLOT_SIZE = (6.0, 4.0)  # inches
PLOT_DPI = 100  # -> 600 x 400 pixels


def _pct(value) -> str:
    return '-' if value is None else f'{100 * value:.2f}'


def markdown_table(report: dict) -> str:
    """The sweep as a Markdown table, top-1/top-5 in percent.

    The change in top-1 against the trained frame count is listed when the
    trained frame count was evaluated too.
    """
    trained = report['trained_frames']
    rows = report['results']
    ref = next((r['top1'] for r in rows if r['frames'] == trained), None)
    head = ['frames', 'top-1 (%)', 'top-5 (%)']
    if ref is not None:
        head.append(f'top-1 vs {trained} f')
    head.append('videos')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---:|' * len(head)]
    for r in rows:
        frames = str(r['frames'])
        if r['frames'] == trained:
            frames += ' (trained)'
        cells = [frames, _pct(r['top1']), _pct(r.get('top5'))]
        if ref is not None:
            cells.append(f'{100 * (r["top1"] - ref):+.2f}')
        cells.append(str(r['num_videos']))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


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


def _finish(fig, ax, ticks, title: str, path: str) -> str:
    """Axes labels, grid and legend; save ``path`` atomically."""
    ax.margins(x=0.08, y=0.15)  # room for the value labels
    ax.set_xticks(sorted(ticks))
    ax.set_xlabel('frames at test')
    ax.set_ylabel('top-1 (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    fig.tight_layout()
    with AtomicFile(path, 'wb') as f:
        fig.savefig(f, dpi=PLOT_DPI, format='png')
    return path


def plot_top1(report: dict, path: str) -> str:
    """Save top-1 vs frame count (trained count marked) as a PNG.

    The image is ``PLOT_SIZE * PLOT_DPI`` pixels (600 x 400).
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


def to_json(report: dict) -> dict:
    """The report without per-video scores, JSON-ready."""
    out = {k: v for k, v in report.items() if k != 'results'}
    out['results'] = [
        {k: v for k, v in r.items() if k != 'scores'}
        for r in report['results']
    ]
    return out


def write_report(report: dict, out_dir: str) -> Dict[str, str]:
    """Write ``tfd.json``, ``tfd.md`` and ``tfd.png`` into ``out_dir``.

    Returns:
        dict: the paths, under keys ``json``, ``md`` and ``png``.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        ext: osp.join(out_dir, f'tfd.{ext}') for ext in ('json', 'md', 'png')
    }
    write_json(paths['json'], to_json(report))
    atomic_write(paths['md'], markdown_table(report) + '\n')
    plot_top1(report, paths['png'])
    return paths


def model_name(report: dict) -> str:
    """A report's model, named by its config file (else its checkpoint)."""
    source = report.get('config') or report.get('checkpoint') or 'model'
    return osp.splitext(osp.basename(str(source)))[0]


def compare_table(reports: List[dict]) -> str:
    """Top-1 (%) of several models at each frame count, a column each.

    A model's trained frame counts (all of an FFN's) are marked ``*``; a
    frame count a model was not evaluated at is ``-``.
    """
    frames = sorted({r['frames'] for rep in reports for r in rep['results']})
    trained = [
        rep.get('trained_counts') or [rep['trained_frames']] for rep in reports
    ]
    head = ['frames'] + [
        f'{model_name(rep)} (trained {"/".join(map(str, counts))} f)'
        for rep, counts in zip(reports, trained)
    ]
    lines = [
        '| ' + ' | '.join(head) + ' |',
        '|' + '---:|' * len(head),
    ]
    for t in frames:
        cells = [str(t)]
        for rep, counts in zip(reports, trained):
            row = next((r for r in rep['results'] if r['frames'] == t), None)
            mark = '*' if t in counts else ''
            cells.append('-' if row is None else _pct(row['top1']) + mark)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


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


def write_comparison(reports: List[dict], out_dir: str) -> Dict[str, str]:
    """Write ``compare.json``, ``compare.md`` and ``compare.png``.

    Returns:
        dict: the paths, under ``compare_json``, ``compare_md`` and
        ``compare_png``.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        f'compare_{ext}': osp.join(out_dir, f'compare.{ext}')
        for ext in ('json', 'md', 'png')
    }
    write_json(
        paths['compare_json'],
        dict(
            models=[
                dict(to_json(rep), name=model_name(rep)) for rep in reports
            ]
        ),
    )
    atomic_write(paths['compare_md'], compare_table(reports) + '\n')
    plot_compare(reports, paths['compare_png'])
    return paths
