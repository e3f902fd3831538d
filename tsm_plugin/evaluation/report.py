"""TFD outputs: ``tfd.json``, a Markdown table (``tfd.md``), ``tfd.png``,
the per-class top-1 (``tfd_per_class.csv``) and the classes that lose most
(``tfd_classes.png``).

The plot is top-1 against the frame count evaluated, with the trained frame
count marked (FFN, https://arxiv.org/abs/2303.14817, Fig. 1). The table gives
one clip's GFLOPs and parameters at each frame count (FFN Tab. 1's compute
axis) and, below it, the classes whose top-1 drops most from the trained
frame count to the smallest one evaluated.
"""

import csv
import io
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

from ..utils.atomic import AtomicFile, atomic_write, write_json

PLOT_SIZE = (6.0, 4.0)  # inches
PLOT_DPI = 100  # -> 600 x 400 pixels
CLASS_PLOT_SIZE = (9.0, 5.0)  # inches: room for SSv2's long class names
TOP_CLASSES = 10  # classes listed as losing most


def _pct(value) -> str:
    return '-' if value is None else f'{100 * value:.2f}'


def _gflops(value: float) -> str:
    return f'{value:.1f}' if value >= 1 else f'{value:.3g}'


def markdown_table(report: dict) -> str:
    """The sweep as a Markdown table, top-1/top-5 in percent.

    The change in top-1 against the trained frame count is listed when the
    trained frame count was evaluated too; one clip's GFLOPs and parameters
    (millions) when the sweep counted them.
    """
    trained = report['trained_frames']
    rows = report['results']
    ref = next((r['top1'] for r in rows if r['frames'] == trained), None)
    counted = all('gflops' in r for r in rows)
    head = ['frames', 'top-1 (%)', 'top-5 (%)']
    if ref is not None:
        head.append(f'top-1 vs {trained} f')
    if counted:
        head += ['GFLOPs', 'params (M)']
    head.append('videos')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---:|' * len(head)]
    for r in rows:
        frames = str(r['frames'])
        if r['frames'] == trained:
            frames += ' (trained)'
        cells = [frames, _pct(r['top1']), _pct(r.get('top5'))]
        if ref is not None:
            cells.append(f'{100 * (r["top1"] - ref):+.2f}')
        if counted:
            cells += [_gflops(r['gflops']), f'{r["params_m"]:.2f}']
        cells.append(str(r['num_videos']))
        lines.append('| ' + ' | '.join(cells) + ' |')
    if counted and report.get('complexity_input'):
        _, height, width = report['complexity_input']
        lines += [
            '',
            f'GFLOPs: one clip of {height}x{width} px frames, a multiply-add '
            'counted as one (mmengine FlopAnalyzer); params: those it runs.',
        ]
    if report.get('precision'):
        lines += ['', f'Precision: {report["precision"]}']
    protocol = report.get('protocol')
    if protocol:  # the test protocol (views, crops, score averaging)
        lines += [''] if lines[-1].startswith('|') else []
        lines.append(f'Protocol: {protocol["name"]} ({protocol["summary"]})')
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
    return _save(fig, path)


def _save(fig, path: Optional[str]):
    """Save ``fig`` as a PNG at ``path`` atomically and return the path;
    ``path=None``: return the figure."""
    fig.tight_layout()
    if path is None:
        return fig
    with AtomicFile(path, 'wb') as f:
        fig.savefig(f, dpi=PLOT_DPI, format='png')
    return path


def _rgb(fig):
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


def _class_counts(report: dict) -> List[dict]:
    """The rows that carry per-class hits (``class_correct``)."""
    return [r for r in report['results'] if 'class_correct' in r]


def _class_name(report: dict, index: int) -> str:
    names = report.get('classes') or []
    return str(names[index]) if index < len(names) else ''


def per_class_top1(row: dict) -> List[Optional[float]]:
    """One frame count's top-1 per class index (``None``: no video)."""
    return [
        c / n if n else None
        for c, n in zip(row['class_correct'], row['class_videos'])
    ]


def drop_counts(report: dict) -> Optional[Tuple[int, int]]:
    """``(from, to)``: the trained frame count (else the largest evaluated)
    and the smallest evaluated; ``None`` if they are the same."""
    frames = [r['frames'] for r in _class_counts(report)]
    if not frames:
        return None
    trained = report['trained_frames']
    high = trained if trained in frames else max(frames)
    low = min(frames)
    return None if low == high else (high, low)


def classes_lost_most(report: dict, k: int = TOP_CLASSES) -> List[dict]:
    """The ``k`` classes whose top-1 drops most from the trained frame count
    to the smallest (:func:`drop_counts`), largest drop first, ties by class
    index; classes that do not lose are left out.

    Returns:
        list[dict]: ``class``, ``name``, ``videos``, ``top1_from``,
        ``top1_to`` (fractions) and ``change`` (``top1_to - top1_from``).
    """
    counts = drop_counts(report)
    if counts is None:
        return []
    rows = {r['frames']: r for r in _class_counts(report)}
    high, low = (per_class_top1(rows[t]) for t in counts)
    videos = rows[counts[0]]['class_videos']
    lost = [
        dict(
            name=_class_name(report, i),
            videos=videos[i],
            top1_from=a,
            top1_to=b,
            change=b - a,
            **{'class': i},
        )
        for i, (a, b) in enumerate(zip(high, low))
        if a is not None and b is not None and b < a
    ]
    lost.sort(key=lambda c: (c['change'], c['class']))
    return lost[:k]


def _cell(text: str) -> str:
    return text.replace('|', '\\|')


def classes_table(report: dict, k: int = TOP_CLASSES) -> str:
    """The classes that lose most (:func:`classes_lost_most`) in Markdown;
    empty if the sweep has no per-class hits or a single frame count."""
    counts = drop_counts(report)
    if counts is None:
        return ''
    high, low = counts
    lost = classes_lost_most(report, k)
    total = sum(n > 0 for n in _class_counts(report)[0]['class_videos'])
    title = (
        f'Classes that lose most top-1 from {high} to {low} frames '
        f'({len(lost)} of {total} classes with videos):'
    )
    if not lost:
        return f'No class loses top-1 from {high} to {low} frames.'
    head = [
        'class',
        'name',
        'videos',
        f'top-1 {high} f (%)',
        f'top-1 {low} f (%)',
        'change',
    ]
    lines = [
        title,
        '',
        '| ' + ' | '.join(head) + ' |',
        '|---:|---|' + '---:|' * (len(head) - 2),
    ]
    for c in lost:
        cells = [
            str(c['class']),
            _cell(c['name']) or '-',
            str(c['videos']),
            _pct(c['top1_from']),
            _pct(c['top1_to']),
            f'{100 * c["change"]:+.2f}',
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def per_class_csv(report: dict) -> str:
    """Top-1 (%) of every class at every frame count, as CSV text.

    Columns: ``class``, ``name``, ``videos``, ``top1_<T>f`` per frame count
    (empty where the class has no video) and, when there are two counts to
    compare, ``change_<from>f_to_<to>f`` (:func:`drop_counts`).
    """
    rows = _class_counts(report)
    counts = drop_counts(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    head = ['class', 'name', 'videos'] + [f'top1_{r["frames"]}f' for r in rows]
    if counts:
        head.append(f'change_{counts[0]}f_to_{counts[1]}f')
    writer.writerow(head)
    top1 = {r['frames']: per_class_top1(r) for r in rows}
    for i, videos in enumerate(rows[0]['class_videos']):
        line = [i, _class_name(report, i), videos]
        line += [
            ''
            if top1[r['frames']][i] is None
            else f'{100 * top1[r["frames"]][i]:.2f}'
            for r in rows
        ]
        if counts:
            a, b = (top1[t][i] for t in counts)
            line.append('' if a is None else f'{100 * (b - a):+.2f}')
        writer.writerow(line)
    return out.getvalue()


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
    return _save(fig, path)


def to_json(report: dict) -> dict:
    """The report without per-video scores, JSON-ready."""
    out = {k: v for k, v in report.items() if k != 'results'}
    out['results'] = [
        {k: v for k, v in r.items() if k != 'scores'}
        for r in report['results']
    ]
    return out


def report_markdown(report: dict) -> str:
    """``tfd.md``: the table, then the classes that lose most."""
    classes = classes_table(report)
    return markdown_table(report) + ('\n\n' + classes if classes else '')


def write_report(report: dict, out_dir: str) -> Dict[str, str]:
    """Write ``tfd.json``, ``tfd.md`` and ``tfd.png`` into ``out_dir``, and
    with per-class hits ``tfd_per_class.csv`` and ``tfd_classes.png``.

    Returns:
        dict: the paths, under keys ``json``, ``md``, ``png`` (and ``csv``,
        ``classes_png``).
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        ext: osp.join(out_dir, f'tfd.{ext}') for ext in ('json', 'md', 'png')
    }
    write_json(paths['json'], to_json(report))
    atomic_write(paths['md'], report_markdown(report) + '\n')
    plot_top1(report, paths['png'])
    if _class_counts(report):
        paths['csv'] = osp.join(out_dir, 'tfd_per_class.csv')
        atomic_write(paths['csv'], per_class_csv(report))
    if drop_counts(report):
        paths['classes_png'] = osp.join(out_dir, 'tfd_classes.png')
        plot_classes(report, paths['classes_png'])
    return paths


def log_to_visualizer(visualizer, report: dict, step: int = 0) -> None:
    """Add the sweep to a visualizer's backends (TensorBoard, local files).

    Scalars ``tfd/top1_<T>f`` at ``step``; the curve against the frame count
    as ``tfd_curve/top1``, ``tfd_curve/top5`` and ``tfd_curve/gflops`` with
    the frame count as their step; the plots as images ``tfd_plot`` and
    ``tfd_classes`` at ``step``.

    Args:
        visualizer: an mmengine ``Visualizer`` (``None``: nothing to do).
        report (dict): :func:`~.sweep.sweep_model`'s report.
        step (int): the training iteration (0 for a checkpoint's sweep).
    """
    if visualizer is None:
        return
    rows = report['results']
    visualizer.add_scalars(
        {f'tfd/top1_{r["frames"]}f': r['top1'] for r in rows}, step=step
    )
    for r in rows:
        for key in ('top1', 'top5', 'gflops'):
            if r.get(key) is not None:
                visualizer.add_scalar(
                    f'tfd_curve/{key}', r[key], step=r['frames']
                )
    visualizer.add_image('tfd_plot', _rgb(plot_top1(report, None)), step)
    if drop_counts(report):
        visualizer.add_image(
            'tfd_classes', _rgb(plot_classes(report, None)), step
        )


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
    precisions = sorted({str(rep.get('precision')) for rep in reports})
    if any(rep.get('precision') for rep in reports):
        lines += ['', f'Precision: {", ".join(precisions)}']
    protocols = sorted(
        {rep['protocol']['name'] for rep in reports if rep.get('protocol')}
    )
    if protocols:
        lines += [''] if lines[-1].startswith('|') else []
        lines.append(f'Protocol: {", ".join(protocols)}')
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
