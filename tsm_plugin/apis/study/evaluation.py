"""Evaluate the study's models at every frame count, each video decoded
once for all of them.

The units evaluated are the model (config) rows the table needs and the
ensemble rows (a per_frames row reads its models' results). Each is built
as ``tools/test.py`` builds its model: the config's model, the checkpoint
loaded in any format :mod:`~tsm_plugin.models.checkpoint_formats` knows
and refused unless it fills the model; an ensemble is an
``EnsembleRecognizer`` of its members' built models. Units whose test
dataset (after the study's protocol, with the frame count set aside) is
the evaluation config's share one pass of
:func:`~tsm_plugin.evaluation.sweep_models`; any other pipeline is a pass
of its own. Results are cached in ``<work_dir>/eval/<slug>.json`` under a
key (checkpoints and their modification times, config and options,
protocol, data root, test dataset), so a rerun evaluates only what
changed; GFLOPs are cached in ``<work_dir>/eval/flops.json``.
"""

import copy
import hashlib
import logging
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional

from mmengine.logging import MMLogger

from ...datasets.test_protocols import apply_test_protocol
from ...utils.atomic import write_json
from ...utils.config import (
    eval_stage,
    is_frame_sampler,
    iter_datasets,
    set_data_root,
)
from ...utils.device import default_device
from .options import canonical, row_config
from .rows import Row
from .spec import Study
from .training import read_json

#: What the study keeps of each frame count's result.
KEPT = ('top1', 'top5', 'gflops', 'params_m', 'num_videos')


def eval_dir(study: Study) -> str:
    return osp.join(study.work_dir, 'eval')


def unit_config(study: Study, name: str):
    """The config a model row is evaluated with: its own, the study's
    ``eval_options`` on top, the study's data root and protocol applied."""
    cfg = row_config(study.rows[name], study.eval_options)
    if study.data_root:
        set_data_root(cfg, study.data_root)
    apply_test_protocol(cfg, study.protocol)
    return cfg


def eval_config(study: Study):
    """The config whose test dataloader and evaluator the rows share:
    ``eval_config``, else the reference row's (its first model), else the
    first shown row's."""
    if study.eval_config:
        row = Row(name='eval_config', kind='config', config=study.eval_config)
        cfg = row_config(row, study.eval_options)
        if study.data_root:
            set_data_root(cfg, study.data_root)
        apply_test_protocol(cfg, study.protocol)
        return cfg
    first = study.reference or study.shown[0]
    return unit_config(study, study.models(first)[0])


def test_signature(cfg) -> str:
    """The test dataset config with every sampler's frame count set aside:
    two configs of one signature evaluate on the same samples."""
    _, loader, _ = eval_stage(cfg)
    loader = copy.deepcopy(loader)
    for ds in iter_datasets({'loader': loader}, ('loader',)):
        for step in ds.get('pipeline') or []:
            if is_frame_sampler(step):
                step['num_clips'] = None
    text = canonical(loader['dataset'])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def units(study: Study, finished: Dict[str, str]) -> List[str]:
    """The rows evaluated (model rows and ensembles), those whose models
    are all trained; in the file's order."""
    names = study.shown + ([study.reference] if study.reference else [])
    wanted = set()
    for name in names:
        row = study.rows[name]
        wanted.update(
            [name] if row.kind != 'per_frames' else study.models(name)
        )
    return [
        n
        for n in study.rows
        if n in wanted and all(m in finished for m in study.models(n))
    ]


def unit_key(study: Study, name: str, finished, signature: str) -> dict:
    """What a cached result depends on."""
    row = study.rows[name]
    members = study.models(name)
    return dict(
        checkpoints=[
            [finished[m], osp.getmtime(finished[m])] for m in members
        ],
        configs=[
            [study.rows[m].config, study.rows[m].cfg_options] for m in members
        ],
        average=row.average if row.kind == 'ensemble' else None,
        protocol=study.protocol,
        data_root=study.data_root,
        eval_options=study.eval_options,
        test_dataset=signature,
    )


def build_model(study: Study, name: str, checkpoint: str):
    """A model row's model with its checkpoint loaded (any known format,
    refused unless it fills the model), in eval mode on the device."""
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from ...engine.checkpoint import load_checkpoint_file
    from ...models.checkpoint_formats import load_into

    cfg = unit_config(study, name)
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
    # refused (one line) unless it fills the model
    load_into(
        load_checkpoint_file(checkpoint, map_location='cpu'), model, checkpoint
    )
    return model.to(default_device()).eval()


def _ensemble(study: Study, name: str, built: Dict[str, object]):
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    row = study.rows[name]
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(
            dict(
                type='EnsembleRecognizer',
                members=[built[m] for m in row.ensemble],
                average=row.average,
            )
        )
    return model.to(default_device()).eval()


def study_logger(study: Study) -> MMLogger:
    """The evaluation's log: ``<work_dir>/eval/eval.log`` (the console
    shows warnings only)."""
    os.makedirs(eval_dir(study), exist_ok=True)
    logger = MMLogger.get_instance(
        f'study-{time.time_ns()}',
        log_file=osp.join(eval_dir(study), 'eval.log'),
        log_level='INFO',
        file_mode='a',
    )
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.WARNING)
    return logger


def _report_entry(report: dict, model) -> dict:
    """The cached part of one model's sweep report."""
    return dict(
        results={
            str(r['frames']): {k: r[k] for k in KEPT if k in r}
            for r in report['results']
        },
        params_total_m=sum(p.numel() for p in model.parameters()) / 1e6,
        trained_counts=report.get('trained_counts'),
        precision=report.get('precision'),
        protocol=report.get('protocol'),
        complexity_input=report.get('complexity_input'),
    )


def _sweep_group(study, names, cfg, finished, logger, say) -> Dict[str, dict]:
    """One pass over the test videos for ``names``; their cache entries
    (results only: the caller adds the keys)."""
    from ...evaluation import sweep_models

    built: Dict[str, object] = {}
    models = {}
    for name in names:
        for m in study.models(name):
            if m not in built:
                built[m] = build_model(study, m, finished[m])
        row = study.rows[name]
        models[name] = (
            built[name]
            if row.kind == 'config'
            else _ensemble(study, name, built)
        )
    say(
        f'evaluating {", ".join(models)} at {len(study.frames)} frame '
        f'count(s) {list(study.frames)} ...',
        end='',
        flush=True,
    )
    start = time.monotonic()
    reports = sweep_models(
        models,
        cfg,
        study.frames,
        logger=logger,
        protocol=study.protocol,
        flop_cache=osp.join(eval_dir(study), 'flops.json'),
    )
    say(f' done in {time.monotonic() - start:.1f} s')
    return {n: _report_entry(reports[n], models[n]) for n in names}


def evaluate(
    study: Study, finished: Dict[str, str], say: Callable = print
) -> Dict[str, dict]:
    """Every unit's cached or new results.

    Args:
        study (Study): the study.
        finished (dict): each trained model row's final checkpoint.
        say (callable): where progress lines go.

    Returns:
        dict: per unit (row name), ``results`` (per frame count, as a
        string key: ``top1``, ``top5`` as fractions, ``gflops``,
        ``params_m``, ``num_videos``), ``params_total_m`` and the sweep's
        ``precision``, ``protocol``, ``trained_counts``.
    """
    from ... import registration

    registration.register_all_modules()  # and mmaction's default scope
    shared = eval_config(study)
    shared_sig = test_signature(shared)
    groups: Dict[str, tuple] = {}
    out, keys = {}, {}
    for name in units(study, finished):
        cfg = unit_config(study, study.models(name)[0])
        sig = test_signature(cfg)
        if sig == shared_sig:
            cfg = shared
        keys[name] = unit_key(study, name, finished, sig)
        path = osp.join(eval_dir(study), f'{study.rows[name].slug}.json')
        cached = read_json(path) or {}
        if canonical(cached.get('key')) == canonical(keys[name]) and all(
            str(k) in cached.get('results', {}) for k in study.frames
        ):
            out[name] = cached
            continue
        groups.setdefault(sig, (cfg, []))[1].append(name)
    logger = study_logger(study) if groups else None
    for cfg, names in groups.values():
        entries = _sweep_group(study, names, cfg, finished, logger, say)
        for name, entry in entries.items():
            path = osp.join(eval_dir(study), f'{study.rows[name].slug}.json')
            cached = read_json(path) or {}
            if canonical(cached.get('key')) == canonical(keys[name]):
                entry['results'] = dict(cached['results'], **entry['results'])
            entry['key'] = keys[name]
            write_json(path, entry)
            out[name] = entry
    if logger is not None:  # the study's log ends here
        for handler in logger.handlers:
            handler.close()
        MMLogger._instance_dict.pop(logger.instance_name, None)
    return out


def checkpoints_of(study: Study, finished_fn: Callable) -> Dict[str, str]:
    """Each model row's final checkpoint, for those trained."""
    out: Dict[str, Optional[str]] = {
        n: finished_fn(n)
        for n, row in study.rows.items()
        if row.kind == 'config'
    }
    return {n: c for n, c in out.items() if c}
