"""The study's table: one line per shown row, as the FFN paper's Tab. 1.

Per row: its parameters (all of its models' weights; a per_frames or
ensemble row sums its distinct models, the paper's 25.6x3 M), its training
cost (:mod:`.cost`) and, at each frame count K, its top-1, the difference
to the reference row's top-1 at K, and one clip's GFLOPs at K (an
ensemble's: its members' sum). A per_frames row at K is the model trained
for K; at a K it has no model for, it has no value. Published figures
(``paper``) go on a line under their row.

Written as ``study.md`` (the table), ``study.csv`` (one line per row and
frame count), ``study.json`` (everything) by :func:`write_tables`.
"""

import csv
import io
import os.path as osp
from typing import Dict, List, Optional

from ...utils.atomic import atomic_write, write_json
from .cost import Costs
from .spec import Study

#: The CSV's columns (one line per row and frame count).
CSV_COLUMNS = (
    'row',
    'frames',
    'top1',
    'top5',
    'delta',
    'gflops',
    'params_m',
    'model',
    'train_cost',
    'train_seconds',
    'paper',
)


def source(study: Study, name: str, frames: int) -> Optional[str]:
    """The evaluated unit whose result is the row's at ``frames``."""
    row = study.rows[name]
    return row.per_frames.get(frames) if row.kind == 'per_frames' else name


def _at(study: Study, evaluated: dict, name: str, k: int) -> Optional[dict]:
    """The row's result at ``k`` frames, top-1/top-5 in percent."""
    unit = source(study, name, k)
    found = (evaluated.get(unit) or {}).get('results', {}).get(str(k))
    if not found:
        return None
    out = dict(found, model=unit)
    for key in ('top1', 'top5'):
        if out.get(key) is not None:
            out[key] = 100 * out[key]
    return out


def _params(study: Study, evaluated: dict, name: str) -> Optional[tuple]:
    """(total, per distinct model) parameters in millions."""
    row = study.rows[name]
    if row.kind != 'per_frames':
        found = (evaluated.get(name) or {}).get('params_total_m')
        if found is None:
            return None
        count = len(study.models(name))
        return found, [found / count] * count
    each = [
        (evaluated.get(m) or {}).get('params_total_m')
        for m in study.models(name)
    ]
    return None if None in each else (sum(each), each)


def params_text(params: Optional[tuple]) -> str:
    """``25.6``, or ``25.6x3`` for equal models, else their sum."""
    if params is None:
        return '-'
    total, each = params
    if len(each) > 1 and max(each) - min(each) < 0.05:
        return f'{each[0]:.1f}x{len(each)}'
    return f'{total:.1f}'


def build_table(
    study: Study,
    evaluated: Dict[str, dict],
    costs: Costs,
    seconds: Dict[str, float],
) -> dict:
    """Everything the outputs show (``study.json``'s content).

    Args:
        study (Study): the study.
        evaluated (dict): :func:`~.evaluation.evaluate`'s results.
        costs (Costs): the training costs.
        seconds (dict): each trained row's wall seconds of training.
    """
    rows = []
    for name in study.shown:
        row = study.rows[name]
        runs = costs.runs(name)
        timed = [seconds[r] for r in runs if r in seconds]
        entry = dict(
            name=name,
            kind=row.kind,
            models=study.models(name),
            train_cost=costs.relative(name),
            train_runs=runs,
            train_seconds=sum(timed) if timed else None,
            paper={str(k): v for k, v in row.paper.items()},
            results={},
        )
        params = _params(study, evaluated, name)
        entry['params_m'] = params[0] if params else None
        entry['params'] = params_text(params)
        for k in study.frames:
            found = _at(study, evaluated, name, k)
            if found is None:
                continue
            ref = (
                _at(study, evaluated, study.reference, k)
                if study.reference
                else None
            )
            found['delta'] = (
                found['top1'] - ref['top1'] if ref is not None else None
            )
            found.update(
                train_cost=entry['train_cost'],
                train_seconds=entry['train_seconds'],
            )
            entry['results'][str(k)] = found
        rows.append(entry)
    return dict(
        study=study.path,
        frames=list(study.frames),
        reference=study.reference,
        cost_reference=study.cost_reference,
        data_root=study.data_root,
        cost_note=costs.note,
        units=dict(top1='%', top5='%', delta='% points', gflops='1e9 MACs'),
        rows=rows,
    )


def _cell(found: Optional[dict], reference: bool) -> str:
    if found is None:
        return '-'
    if reference:
        return f'{found["top1"]:.2f} (ref)'
    if found.get('delta') is None:
        return f'{found["top1"]:.2f}'
    return f'{found["top1"]:.2f} ({found["delta"]:+.2f})'


def _footer(table: dict) -> List[str]:
    """What the numbers are: protocol, frames, videos, data, device."""
    protocol = table.get('protocol') or {}
    ref, cost_ref = table['reference'], table['cost_reference']
    data_root = table['data_root'] or "each config's"
    lines = [
        'Top-1 (%) at each frame count'
        + (f"; in brackets, minus {ref}'s at that count" if ref else '')
        + ". GFLOPs: one clip (an ensemble: its members' sum).",
        f"Params (M): all weights of the row's models; NxM: N models of "
        f'M. Training cost: frames processed in training (frames per clip '
        f'x epochs x videos, with the runs a row starts from) over '
        f"{cost_ref}'s; {table['cost_note']}.",
        f'Protocol: {protocol.get("name", "-")}'
        + (f' ({protocol["summary"]})' if protocol.get('summary') else '')
        + f'; frames: {", ".join(map(str, table["frames"]))}; videos: '
        f'{table.get("videos", "-")}; data root: '
        f'{data_root}; device: '
        f'{table.get("device", "-")}.',
    ]
    if table.get('not_trained'):
        lines.append(
            'Not trained yet (no values): '
            + ', '.join(table['not_trained'])
            + '.'
        )
    if any(r['paper'] for r in table['rows']):
        lines.append('paper: the published top-1 (FFN, arXiv:2303.14817).')
    return lines


def markdown(table: dict) -> str:
    """``study.md``: the table and what its numbers are."""
    frames = table['frames']
    head = ['row', 'params (M)', 'training cost']
    head += [f'top-1 {k}f' for k in frames]
    head += [f'GFLOPs {k}f' for k in frames]
    lines = [
        '| ' + ' | '.join(head) + ' |',
        '|---|' + '---:|' * (len(head) - 1),
    ]
    for row in table['rows']:
        is_ref = row['name'] == table['reference']
        got = [row['results'].get(str(k)) for k in frames]
        cells = [
            row['name'].replace('|', '\\|'),
            row['params'],
            f'{row["train_cost"]:.2f}',
        ]
        cells += [_cell(g, is_ref) for g in got]
        cells += [
            f'{g["gflops"]:.3g}' if g and 'gflops' in g else '-' for g in got
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
        if row['paper']:
            paper = [row['paper'].get(str(k)) for k in frames]
            cells = ['  paper', '', '']
            cells += [f'{p:.2f}' if p is not None else '' for p in paper]
            cells += [''] * len(frames)
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines + [''] + _footer(table))


def csv_text(table: dict) -> str:
    """``study.csv``: one line per row and frame count (blank: no value)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(CSV_COLUMNS)
    for row in table['rows']:
        for k in table['frames']:
            got = row['results'].get(str(k)) or {}
            writer.writerow(
                [
                    row['name'],
                    k,
                    got.get('top1', ''),
                    got.get('top5', ''),
                    '' if got.get('delta') is None else got['delta'],
                    got.get('gflops', ''),
                    got.get('params_m', ''),
                    got.get('model', ''),
                    row['train_cost'],
                    ''
                    if row['train_seconds'] is None
                    else row['train_seconds'],
                    row['paper'].get(str(k), ''),
                ]
            )
    return buf.getvalue()


def write_tables(table: dict, out_dir: str) -> Dict[str, str]:
    """Write ``study.md``, ``study.csv`` and ``study.json`` into
    ``out_dir``; returns their paths by extension."""
    paths = {e: osp.join(out_dir, f'study.{e}') for e in ('md', 'csv', 'json')}
    atomic_write(paths['md'], markdown(table) + '\n')
    atomic_write(paths['csv'], csv_text(table))
    write_json(paths['json'], table)
    return paths
