"""TFD outputs: the files of a sweep (``tfd.json``, ``tfd.md``, ``tfd.png``,
``tfd_per_class.csv``, ``tfd_classes.png``), of a comparison
(``compare.json``, ``.md``, ``.png``) and the visualizer's scalars and
images (TensorBoard where configured).

The text comes from :mod:`.tables`, the images from :mod:`.plots`, the
per-class statistics from :mod:`.per_class`.
"""

import os
import os.path as osp
from typing import Dict, List

from ..utils.atomic import atomic_write, write_json
from .per_class import class_rows, drop_counts
from .plots import plot_classes, plot_compare, plot_top1, rgb
from .tables import (
    classes_table,
    compare_table,
    markdown_table,
    model_name,
    per_class_csv,
)


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
    if class_rows(report):
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
    visualizer.add_image('tfd_plot', rgb(plot_top1(report, None)), step)
    if drop_counts(report):
        visualizer.add_image(
            'tfd_classes', rgb(plot_classes(report, None)), step
        )


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
