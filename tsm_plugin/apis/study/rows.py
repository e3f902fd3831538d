"""A study's rows: :class:`Row`, and each row's dict checked on its own
and against the others (names it refers to, ``init_from`` cycles, folder
names). Problems are collected, one line each, by :class:`Errors`."""

import dataclasses
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from ...errors import ConfigValueError
from ...models.ensemble_recognizer import AVERAGES
from .options import flatten, option_args

#: Every key a row may have; which kind of row each belongs to.
KIND_KEYS = {
    'config': ('cfg_options', 'checkpoint', 'init_from'),
    'per_frames': (),
    'ensemble': ('average',),
}
COMMON_KEYS = ('name', 'show', 'paper')
KINDS = tuple(KIND_KEYS)


@dataclasses.dataclass
class Row:
    """One row of the study: a model trained from a config (``config``),
    the model trained at each frame count (``per_frames``), or an
    evaluation-time ensemble of model rows (``ensemble``)."""

    name: str
    kind: str
    config: Optional[str] = None
    #: ``--cfg-options`` of the row, flattened to dotted keys.
    cfg_options: Dict[str, object] = dataclasses.field(default_factory=dict)
    checkpoint: Optional[str] = None
    init_from: Optional[str] = None
    show: bool = True
    paper: Dict[int, float] = dataclasses.field(default_factory=dict)
    per_frames: Dict[int, str] = dataclasses.field(default_factory=dict)
    ensemble: List[str] = dataclasses.field(default_factory=list)
    average: str = 'prob'

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def trainable(self) -> bool:
        """A config row without a given checkpoint: trained by the study."""
        return self.kind == 'config' and self.checkpoint is None


def slug(name: str) -> str:
    """A row's folder name: lower case, runs of other characters as ``-``
    (``'TSM-FT 16F->4F'`` -> ``'tsm-ft-16f-4f'``)."""
    return re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')


class Errors(list):
    """The problems found, one line each."""

    def check(self, ok: bool, line: str) -> bool:
        if not ok:
            self.append(line)
        return ok


def _check_config(row: dict, where: str, errors: Errors) -> None:
    config = row.get('config')
    if not errors.check(
        isinstance(config, str) and bool(config),
        f'{where}: config must be a file name, got {config!r}',
    ):
        return
    if '::' not in config:
        errors.check(
            osp.isfile(config), f'{where}: config not found: {config}'
        )
    errors.check(
        isinstance(row.get('cfg_options', {}), dict),
        f'{where}: cfg_options must be a dict',
    )
    ckpt = row.get('checkpoint')
    if ckpt is not None:
        errors.check(
            isinstance(ckpt, str) and bool(ckpt),
            f'{where}: checkpoint must be a file name, got {ckpt!r}',
        )
        errors.check(
            row.get('init_from') is None,
            f'{where}: a row with a checkpoint is not trained: drop init_from',
        )


def _check_counts(values, where: str, errors: Errors) -> bool:
    ok = isinstance(values, dict) and bool(values)
    if ok:
        ok = all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1
            for k in values
        )
    return errors.check(
        ok, f'{where} must map frame counts (integers >= 1) to values'
    )


def parse_row(raw, index: int, errors: Errors) -> Optional[Row]:
    """One row's dict, checked on its own (names it refers to: later)."""
    name = raw.get('name') if isinstance(raw, dict) else None
    where = f'rows[{index}]' + (f' {name!r}' if name else '')
    if not errors.check(isinstance(raw, dict), f'{where}: not a dict'):
        return None
    if not errors.check(
        isinstance(name, str) and bool(slug(name)),
        f'{where}: name must be a string with a letter or digit',
    ):
        return None
    kinds = [k for k in KINDS if raw.get(k) is not None]
    if not errors.check(
        len(kinds) == 1,
        f'{where}: give exactly one of config, per_frames, ensemble '
        f'(got {", ".join(kinds) or "none"})',
    ):
        return None
    kind = kinds[0]
    allowed = set(COMMON_KEYS) | {kind} | set(KIND_KEYS[kind])
    for key in raw:
        errors.check(
            key in allowed,
            f'{where}: unknown key {key!r} for a {kind} row '
            f'(allowed: {", ".join(sorted(allowed))})',
        )
    row = Row(name=name, kind=kind)
    row.show = raw.get('show', True)
    errors.check(
        isinstance(row.show, bool), f'{where}: show must be True or False'
    )
    paper = raw.get('paper')
    if paper is not None and _check_counts(paper, f'{where}: paper', errors):
        if errors.check(
            all(_number(v) for v in paper.values()),
            f'{where}: paper values must be numbers (top-1 in %)',
        ):
            row.paper = {int(k): float(v) for k, v in paper.items()}
    if kind == 'config':
        _check_config(raw, where, errors)
        row.config = raw['config']
        row.checkpoint = raw.get('checkpoint')
        init = raw.get('init_from')
        if errors.check(
            init is None or isinstance(init, str),
            f'{where}: init_from must be a row name, got {init!r}',
        ):
            row.init_from = init
        if isinstance(raw.get('cfg_options'), dict):
            row.cfg_options = flatten(raw['cfg_options'])
            try:
                option_args(row.cfg_options)
            except ConfigValueError as e:
                errors.append(f'{where}: {e}')
    elif kind == 'per_frames':
        if _check_counts(raw['per_frames'], f'{where}: per_frames', errors):
            row.per_frames = {
                int(k): v for k, v in sorted(raw['per_frames'].items())
            }
    else:
        members = raw['ensemble']
        if errors.check(
            isinstance(members, (list, tuple))
            and bool(members)
            and len(set(map(str, members))) == len(members),
            f'{where}: ensemble must be a list of distinct row names',
        ):
            row.ensemble = list(members)
        row.average = raw.get('average', 'prob')
        errors.check(
            row.average in AVERAGES,
            f'{where}: average must be one of {", ".join(AVERAGES)}, '
            f'got {row.average!r}',
        )
    return row


def check_links(rows: Dict[str, Row], errors: Errors) -> None:
    """Names a row refers to exist and are model rows; no init cycle."""
    for row in rows.values():
        refs = [('init_from', row.init_from)] if row.init_from else []
        refs += [('per_frames', n) for n in row.per_frames.values()]
        refs += [('ensemble', n) for n in row.ensemble]
        for key, ref in refs:
            if not errors.check(
                isinstance(ref, str) and ref in rows,
                f'row {row.name!r}: {key} names an unknown row {ref!r}',
            ):
                continue
            errors.check(
                rows[ref].kind == 'config',
                f'row {row.name!r}: {key} names {ref!r}, which is not a '
                'config row',
            )
    cycles = set()
    for row in rows.values():
        seen = [row.name]
        while rows[seen[-1]].init_from in rows:
            nxt = rows[seen[-1]].init_from
            if nxt in seen:
                cycle = seen[seen.index(nxt) :]
                first = cycle.index(min(cycle))  # one line per cycle
                cycles.add(tuple(cycle[first:] + cycle[:first]))
                break
            seen.append(nxt)
    for cycle in sorted(cycles):
        errors.append('init_from cycle: ' + ' -> '.join(cycle + (cycle[0],)))
    for a, b in _pairs(rows.values()):
        errors.check(
            a.name == b.name or a.slug != b.slug,
            f'rows {a.name!r} and {b.name!r} share the folder name '
            f'{a.slug!r}: rename one',
        )


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pairs(rows) -> List[Tuple[Row, Row]]:
    rows = list(rows)
    return [(a, b) for i, a in enumerate(rows) for b in rows[i + 1 :]]
