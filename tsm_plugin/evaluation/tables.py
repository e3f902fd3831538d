"""The TFD sweep as text: the Markdown tables of ``tfd.md`` and
``compare.md``, and the per-class CSV.

The sweep's table gives top-1/top-5 at each frame count evaluated, the
change against the trained frame count, and one clip's GFLOPs and parameters
(FFN, https://arxiv.org/abs/2303.14817, Tab. 1's compute axis); below it,
the classes whose top-1 drops most from the trained frame count to the
smallest one evaluated (:mod:`.per_class`).
"""

import csv
import io
import os.path as osp
from typing import List

from .per_class import (
    TOP_CLASSES,
    class_name,
    class_rows,
    classes_lost_most,
    drop_counts,
    per_class_top1,
)


def pct(value) -> str:
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
        cells = [frames, pct(r['top1']), pct(r.get('top5'))]
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


def _cell(text: str) -> str:
    return text.replace('|', '\\|')


def classes_table(report: dict, k: int = TOP_CLASSES) -> str:
    """The classes that lose most (:func:`~.per_class.classes_lost_most`) in
    Markdown; empty if the sweep has no per-class hits or a single frame
    count."""
    counts = drop_counts(report)
    if counts is None:
        return ''
    high, low = counts
    lost = classes_lost_most(report, k)
    total = sum(n > 0 for n in class_rows(report)[0]['class_videos'])
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
            pct(c['top1_from']),
            pct(c['top1_to']),
            f'{100 * c["change"]:+.2f}',
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def per_class_csv(report: dict) -> str:
    """Top-1 (%) of every class at every frame count, as CSV text.

    Columns: ``class``, ``name``, ``videos``, ``top1_<T>f`` per frame count
    (empty where the class has no video) and, when there are two counts to
    compare, ``change_<from>f_to_<to>f`` (:func:`~.per_class.drop_counts`).
    """
    rows = class_rows(report)
    counts = drop_counts(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    head = ['class', 'name', 'videos'] + [f'top1_{r["frames"]}f' for r in rows]
    if counts:
        head.append(f'change_{counts[0]}f_to_{counts[1]}f')
    writer.writerow(head)
    top1 = {r['frames']: per_class_top1(r) for r in rows}
    for i, videos in enumerate(rows[0]['class_videos']):
        line = [i, class_name(report, i), videos]
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
            cells.append('-' if row is None else pct(row['top1']) + mark)
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
