"""Training cost: the frames a network processes in training.

The FFN paper (https://arxiv.org/abs/2303.14817, Tab. 1) compares methods
whose training costs differ (TSM-ST trains three models, FFN runs three
branches a clip, Proportional Sampling runs 16 or 4 frames an iteration)
without stating the costs. Chosen here, and said in the table: the cost of
one training run is frames per clip x epochs x training videos, compute
being about proportional to frames (TSM's shift is free, its convolutions
are per frame). Frames per clip:

* an FFN (``model.backbone.frame_counts``): their sum (every branch runs);
* ``ProportionalSampling`` (``model.data_preprocessor.blending``):
  ``varrho * max + (1 - varrho) * min`` of its two counts (the expected
  count; the iterations are the config's);
* ``MixedSampling``: the larger count (the small clip is blended into it);
* else the config's frame count (``num_frames``).

A row's cost adds the runs it builds on: a row started from another row's
weights (``init_from``, or a config ``load_from`` naming another row's
checkpoint) includes that run; a per_frames or ensemble row is the sum of
its distinct models' costs. The table divides by ``cost_reference``'s.
"""

import json
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

from ...utils.config import get_num_frames, iter_datasets, set_data_root
from .options import row_config
from .spec import Study

#: Annotation files a study reads the length of, by path.
_VIDEOS: Dict[str, Optional[int]] = {}


def frames_per_clip(cfg) -> float:
    """The frames the network processes per training clip (module doc)."""
    model = cfg.get('model') or {}
    counts = (model.get('backbone') or {}).get('frame_counts')
    if counts:
        return float(sum(counts))
    blending = (model.get('data_preprocessor') or {}).get('blending')
    if isinstance(blending, dict):
        counts = blending.get('frame_counts') or cfg.get('train_frame_counts')
        kind = str(blending.get('type', ''))
        if counts and kind.endswith('ProportionalSampling'):
            varrho = float(blending.get('varrho', 0.5))
            return varrho * max(counts) + (1 - varrho) * min(counts)
        if counts and kind.endswith('MixedSampling'):
            return float(max(counts))
    return float(get_num_frames(cfg))


def training_set(cfg) -> Tuple[Tuple[str, ...], object]:
    """The training annotation files (joined to their data roots) and the
    dataset's ``indices``: what decides how many videos an epoch has."""
    files, indices = [], None
    for ds in iter_datasets(cfg, ('train_dataloader',)):
        ann = str(ds.get('ann_file', ''))
        root = ds.get('data_root') or ''
        files.append(
            ann if osp.isabs(ann) or not root else osp.join(root, ann)
        )
        indices = ds.get('indices', indices)
    return tuple(files), indices


def count_videos(files: Iterable[str], indices) -> Optional[int]:
    """Training videos an epoch: the annotation lists' lengths (JSON lists,
    else lines), cut by ``indices``; None where a file cannot be read."""
    total = 0
    for path in files:
        if path not in _VIDEOS:
            try:
                with open(path) as f:
                    if path.endswith('.json'):
                        _VIDEOS[path] = len(json.load(f))
                    else:
                        _VIDEOS[path] = sum(1 for line in f if line.strip())
            except (OSError, ValueError, TypeError):
                _VIDEOS[path] = None
        if _VIDEOS[path] is None:
            return None
        total += _VIDEOS[path]
    if isinstance(indices, int):
        total = min(total, indices)
    elif isinstance(indices, (list, tuple)):
        total = len(indices)
    return total or None  # an empty list counts nothing


class Costs:
    """Every row's training cost (relative to ``cost_reference``).

    Args:
        study (Study): the study.
        checkpoints (dict): each model row's checkpoint path where known
            (a config's ``load_from`` naming one is a warm start from it).

    Attributes:
        note (str): how training videos were counted (for the footer).
    """

    def __init__(self, study: Study, checkpoints: Dict[str, str]):
        self.study = study
        cfgs, self.starts = {}, {}
        todo = study.needed() + study.models(study.cost_reference)
        while todo:  # the rows costed, and those they start from
            name = todo.pop()
            if name in cfgs:
                continue
            cfgs[name] = row_config(study.rows[name])
            if study.data_root:
                set_data_root(cfgs[name], study.data_root)
            self.starts[name] = self._start(name, cfgs[name], checkpoints)
            todo += [self.starts[name]] if self.starts[name] else []
        sets = {n: training_set(cfg) for n, cfg in cfgs.items()}
        videos = dict.fromkeys(cfgs, 1)
        if len(set(sets.values())) <= 1:
            self.note = 'every row trains on the same videos'
        else:
            counted = {n: count_videos(*s) for n, s in sets.items()}
            if None in counted.values():
                self.note = (
                    'training videos assumed the same for every row (an '
                    'annotation file could not be read)'
                )
            else:
                videos = counted
                self.note = 'training videos counted per row'
        self.own = {
            n: frames_per_clip(cfg) * int(cfg.train_cfg.max_epochs) * videos[n]
            for n, cfg in cfgs.items()
        }

    def _start(self, name: str, cfg, checkpoints) -> Optional[str]:
        """The row a config row starts from: ``init_from``, else the row
        whose checkpoint its ``load_from`` names."""
        row = self.study.rows[name]
        if row.init_from:
            return row.init_from
        load_from = cfg.get('load_from')
        if not load_from:
            return None
        wanted = osp.abspath(str(load_from))
        for other, path in checkpoints.items():
            if other != name and path and osp.abspath(path) == wanted:
                return other
        return None

    def runs(self, name: str) -> List[str]:
        """The training runs a row's cost counts (each once)."""
        runs = []
        for model in self.study.models(name):
            while model is not None and model not in runs:
                runs.append(model)
                model = self.starts.get(model)
        return runs

    def absolute(self, name: str) -> float:
        return sum(self.own[r] for r in self.runs(name))

    def relative(self, name: str) -> float:
        """A row's cost over ``cost_reference``'s."""
        return self.absolute(name) / self.absolute(self.study.cost_reference)
