"""What the checks share: the config and the components built from it.

A :class:`Context` holds the loaded config and builds each component the
checks need (datasets, model, one training batch) once, on first use. A
build that fails is remembered and re-raised to every later user, so it is
attempted once; a check whose prerequisite is missing raises :class:`Skip`.
"""

import argparse
import copy
import dataclasses
import functools
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional

import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from ... import registration  # noqa: F401  (fixes the stack, registers)
from ...utils.config import DATALOADERS, load_config, set_data_root
from ...utils.device import resolve_device
from .._cli import resolve_work_dir
from .rows import Skip, one_line


class BuiltDatasets(NamedTuple):
    """{dataloader name: dataset}, {dataloader name: why it did not build}."""

    datasets: Dict[str, Any]
    errors: Dict[str, str]


class StepResult(NamedTuple):
    """What a passed training step leaves for the checkpoint check."""

    model: torch.nn.Module
    optim_wrapper: OptimWrapper
    log_vars: dict


class once:
    """A cached property that caches a raised exception too."""

    def __init__(self, build):
        self.build = build
        functools.update_wrapper(self, build)

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        if self.name not in ctx.built:
            try:
                ctx.built[self.name] = (self.build(ctx), None)
            except Exception as err:  # noqa: BLE001 - re-raised to each user
                ctx.built[self.name] = (None, err)
        value, err = ctx.built[self.name]
        if err is not None:
            raise err
        return value


@dataclasses.dataclass
class Context:
    """The config under check and what the checks build from it.

    Attributes:
        cfg (Config): the loaded config (``--cfg-options`` and
            ``--data-root`` applied).
        work_dir (str): where the bad-video list and the probes go.
        args (argparse.Namespace): the command line.
        device (str): the training-step device (``--device``, resolved).
        trained (dict): device -> :class:`StepResult` of a passed step.
        pretrained_error (str, optional): why the pretrained weights did
            not load (the model is then built from scratch).
    """

    cfg: Config
    work_dir: str
    args: argparse.Namespace
    device: str = 'cpu'
    trained: Dict[str, StepResult] = dataclasses.field(default_factory=dict)
    pretrained_error: Optional[str] = None
    built: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> 'Context':
        """Load the config; a bad config, data root or device is an
        :class:`~tsm_plugin.errors.InputError`."""
        cfg = load_config(args.config, args.cfg_options)
        if args.data_root:
            set_data_root(cfg, args.data_root)
        init_default_scope(cfg.get('default_scope', 'mmaction'))
        return cls(
            cfg,
            resolve_work_dir(cfg, args.work_dir, args.config),
            args,
            device=resolve_device(args.device),
        )

    @property
    def devices(self) -> List[str]:
        """The training-step devices: the chosen one, and always CPU."""
        return [self.device] + (['cpu'] if self.device != 'cpu' else [])

    @property
    def bad_list(self) -> str:
        return self.args.bad_list or osp.join(
            self.work_dir, 'preflight_bad_videos.txt'
        )

    @property
    def pretrained(self) -> Optional[str]:
        return self.cfg.model.get('backbone', {}).get('pretrained')

    @once
    def built_datasets(self) -> BuiltDatasets:
        """Build each dataloader's dataset; a failure is recorded, not raised.

        A dataloader sharing another's dataset config shares its dataset
        (and its error, reported once).
        """
        datasets, errors, by_cfg, failed = {}, {}, {}, set()
        for name in DATALOADERS:
            loader = self.cfg.get(name)
            if not loader:
                continue
            key = repr(loader['dataset'])
            if key in by_cfg:  # e.g. test_dataloader = val_dataloader
                datasets[name] = by_cfg[key]
            elif key not in failed:
                try:
                    datasets[name] = by_cfg[key] = DATASETS.build(
                        loader['dataset']
                    )
                except Exception as err:  # noqa: BLE001 - a table row
                    failed.add(key)
                    errors[name] = one_line(err)
        return BuiltDatasets(datasets, errors)

    @property
    def datasets(self) -> Dict[str, Any]:
        """{dataloader name: dataset} of the datasets that build."""
        return self.built_datasets.datasets

    @once
    def model(self) -> torch.nn.Module:
        """The model, initialized (pretrained weights loaded).

        Weights that fail to load are recorded in :attr:`pretrained_error`
        and the model is initialized from scratch instead, so the training
        checks still run.
        """
        model = MODELS.build(self.cfg.model)
        try:
            model.init_weights()
        except Exception as err:  # noqa: BLE001 - reported by check_model
            if not self.pretrained:
                raise
            self.pretrained_error = one_line(err)
            scratch = copy.deepcopy(self.cfg.model)
            scratch.backbone.pretrained = None
            model = MODELS.build(scratch)
            model.init_weights()
        return model

    @once
    def batch(self) -> dict:
        """One batch of the training pipeline (no workers, first clips)."""
        loader = copy.deepcopy(self.cfg.train_dataloader)
        loader.update(
            batch_size=self.args.batch_size,
            num_workers=0,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
        )
        try:
            return next(iter(Runner.build_dataloader(loader, seed=0)))
        except Exception as err:
            raise RuntimeError(f'loading a batch: {one_line(err)}') from err

    def require(self, name: str, reason: str):
        """The component ``name``; :class:`Skip` with ``reason`` if it
        could not be built (its own check reports why)."""
        try:
            return getattr(self, name)
        except Exception:  # noqa: BLE001
            raise Skip(reason) from None
