"""The study file: read, checked up front, as :class:`Study` and its rows.

A study file is a Python config (mmengine ``Config``: ``_base_``,
``{{_base_.x}}`` and ``pkg::`` names work)::

    work_dir = 'work_dirs/studies/demo'  # rows train in <work_dir>/<slug>/
    out_dir = None          # the table's folder (default: work_dir)
    frames = (4, 8, 12, 16)  # every row evaluated at each (any K >= 1)
    protocol = 'efficient'  # efficient | accurate | zoo, for every row
    reference = 'FFN'       # the differences: top-1 minus this row's at K
    cost_reference = 'TSM'  # training cost 1.0 (default: the first row)
    eval_config = None      # whose test dataloader/evaluator rows share
    eval_options = {}       # cfg_options of every row at evaluation only
    data_root = None        # every row's data root (set_data_root)
    rows = [
        dict(name='TSM', config='configs/tsm_demo_synthetic.py',
             checkpoint='work_dirs/tsm_demo_synthetic/epoch_10.pth'),
        dict(name='ST-4', config='configs/tsm_demo_synthetic.py',
             cfg_options=dict(num_frames=4), show=False),
        dict(name='FT', config='ft.py', init_from='TSM'),
        dict(name='TSM-ST', per_frames={4: 'ST-4', 16: 'TSM'}),
        dict(name='Ensemble', ensemble=['ST-4', 'TSM'], average='prob'),
    ]

Each row has a unique ``name`` and exactly one of ``config`` (a model:
``cfg_options``, ``checkpoint`` to use as it is, ``init_from`` a row whose
final checkpoint it starts from), ``per_frames`` (frame count -> model
row: at K, the row trained for K; no value at other counts) or
``ensemble`` (model rows run together at every K, ``average`` 'prob' or
'logits'); any row takes ``show`` (False: trained and used by other rows,
not a line of the table) and ``paper`` (K -> published top-1, printed
under the row). Other top-level keys (helpers such as ``_tsm``, rows a
``_base_`` file names for reuse) are left alone. Every problem is found
before anything runs and reported one line each
(:class:`~tsm_plugin.errors.ConfigValueError`, exit status 2).
"""

import dataclasses
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from ...datasets.test_protocols import PROTOCOLS
from ...errors import ConfigValueError
from ...utils.config import _read, check_frame_counts
from .options import flatten
from .rows import Errors, Row, check_links, parse_row

#: The frame counts of a study that names none (the paper's Fig. 1 axis).
DEFAULT_FRAMES = (4, 8, 12, 16)


@dataclasses.dataclass
class Study:
    """A checked study file (and the flags that change it)."""

    path: str
    work_dir: str
    out_dir: str
    frames: Tuple[int, ...]
    protocol: str
    reference: Optional[str]
    cost_reference: str
    eval_config: Optional[str]
    eval_options: Dict[str, object]
    data_root: Optional[str]
    rows: Dict[str, Row]  # in the file's order
    #: The rows of the table (``show``, or those ``--rows`` names).
    shown: List[str] = dataclasses.field(default_factory=list)

    def row_dir(self, name: str) -> str:
        """Where a config row trains: ``<work_dir>/<slug>``."""
        return osp.join(self.work_dir, self.rows[name].slug)

    def models(self, name: str) -> List[str]:
        """The model (config) rows a row evaluates with, distinct, in
        order: itself, its per-frame models, or its ensemble's members."""
        row = self.rows[name]
        if row.kind == 'config':
            return [name]
        names = row.ensemble or list(row.per_frames.values())
        return list(dict.fromkeys(names))

    def init_chain(self, name: str) -> List[str]:
        """A config row and the rows it starts from (``init_from``)."""
        chain = [name]
        while self.rows[chain[-1]].init_from:
            chain.append(self.rows[chain[-1]].init_from)
        return chain

    def needed(self) -> List[str]:
        """The model rows the table needs (the shown rows' models, the
        reference's) and the rows they start from, in the file's order."""
        names = self.shown + ([self.reference] if self.reference else [])
        need = {
            r
            for n in names
            for m in self.models(n)
            for r in self.init_chain(m)
        }
        return [n for n in self.rows if n in need]


def _names(
    names: Optional[Sequence[str]], rows: Dict[str, Row], flag: str
) -> List[str]:
    """``--rows``/``--retrain`` names, each a row of the study."""
    unknown = [n for n in names or () if n not in rows]
    if unknown:
        raise ConfigValueError(
            f'{flag}: no row named {", ".join(map(repr, unknown))} (rows: '
            f'{", ".join(rows)})'
        )
    return list(dict.fromkeys(names or ()))


def _top_level(cfg, errors: Errors, frames, data_root) -> dict:
    """The study's own keys, checked (rows apart)."""
    work_dir = cfg.get('work_dir')
    errors.check(
        isinstance(work_dir, str) and bool(work_dir),
        'work_dir must be a folder name',
    )
    what = '--frames' if frames else 'frames'
    frames = frames or cfg.get('frames') or DEFAULT_FRAMES
    try:
        frames = check_frame_counts(list(frames), what, dedupe=True)
    except (ConfigValueError, TypeError) as e:
        errors.append(str(e))
    protocol = cfg.get('protocol') or 'efficient'
    errors.check(
        protocol in PROTOCOLS,
        f'protocol must be one of {", ".join(PROTOCOLS)}, got {protocol!r}',
    )
    eval_config = cfg.get('eval_config')
    if eval_config is not None and '::' not in str(eval_config):
        errors.check(
            osp.isfile(str(eval_config)),
            f'eval_config not found: {eval_config}',
        )
    eval_options = cfg.get('eval_options') or {}
    errors.check(isinstance(eval_options, dict), 'eval_options must be a dict')
    data_root = data_root or cfg.get('data_root')
    if data_root is not None:
        errors.check(
            osp.isdir(str(data_root)), f'data_root not found: {data_root}'
        )
    return dict(
        work_dir=work_dir,
        frames=frames,
        protocol=protocol,
        eval_config=eval_config,
        eval_options=flatten(eval_options)
        if isinstance(eval_options, dict)
        else {},
        data_root=data_root,
    )


def load_study(
    path: str,
    cfg_options: Optional[dict] = None,
    frames: Optional[Sequence[int]] = None,
    data_root: Optional[str] = None,
    out: Optional[str] = None,
    rows: Optional[Sequence[str]] = None,
    check_checkpoints: bool = True,
) -> Study:
    """Read and check a study file.

    Args:
        path (str): the study file.
        cfg_options (dict, optional): ``--cfg-options``: merged into the
            study file's keys before they are checked.
        frames, data_root, out: ``--frames``, ``--data-root``, ``--out``;
            they win over the file's ``frames``, ``data_root``, ``out_dir``.
        rows (list[str], optional): ``--rows``: the table's rows (default:
            those with ``show`` True).
        check_checkpoints (bool): that every given ``checkpoint`` exists
            (False: the file alone is checked, as a lint).

    Raises:
        InputError: a missing study file.
        ConfigValueError: every problem found, one line each, each line
            starting with the study file's name.
    """
    cfg = _read(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    errors = Errors()
    top = _top_level(cfg, errors, frames, data_root)
    raw = cfg.get('rows')
    parsed: Dict[str, Row] = {}
    if errors.check(
        isinstance(raw, (list, tuple)) and bool(raw),
        'rows must be a non-empty list of dicts',
    ):
        for i, item in enumerate(raw):
            row = parse_row(item, i, errors)
            if row is not None and errors.check(
                row.name not in parsed,
                f'rows[{i}]: duplicate name {row.name!r}',
            ):
                parsed[row.name] = row
        check_links(parsed, errors)
    for row in parsed.values() if check_checkpoints else ():
        errors.check(
            row.checkpoint is None or osp.isfile(row.checkpoint),
            f'row {row.name!r}: checkpoint not found: {row.checkpoint}',
        )
    reference = cfg.get('reference')
    cost_reference = cfg.get('cost_reference') or next(iter(parsed), None)
    for key, name in (
        ('reference', reference),
        ('cost_reference', cost_reference),
    ):
        if name is not None and parsed:
            errors.check(
                name in parsed, f'{key} names an unknown row {name!r}'
            )
    if errors:
        raise ConfigValueError(
            '\n'.join(f'{path}: {line}' for line in dict.fromkeys(errors))
        )
    shown = _names(rows, parsed, '--rows') or [
        n for n, r in parsed.items() if r.show
    ]
    if not shown:
        raise ConfigValueError(f'{path}: no row to show (every show=False)')
    return Study(
        path=path,
        out_dir=out or cfg.get('out_dir') or top['work_dir'],
        reference=reference,
        cost_reference=cost_reference,
        rows=parsed,
        shown=shown,
        **top,
    )


def retrain_rows(study: Study, names: Optional[Sequence[str]]) -> List[str]:
    """``--retrain`` names, each a row the study trains.

    Raises:
        ConfigValueError: an unknown name, or a row the study does not
            train (a per_frames or ensemble row, or one with a checkpoint).
    """
    names = _names(names, study.rows, '--retrain')
    fixed = [n for n in names if not study.rows[n].trainable]
    if fixed:
        raise ConfigValueError(
            f'--retrain: {", ".join(map(repr, fixed))} not trained by the '
            'study (a checkpoint, per_frames or ensemble row)'
        )
    return names
