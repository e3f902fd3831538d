"""num_workers='auto': this process's cores minus one, at most 8, cores
shared among torchrun's local ranks; resolved by load_config."""

import os

import pytest
from mmengine.config import Config

from tests.helpers import RECIPE
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.utils import workers
from tsm_plugin.utils.config import load_config


@pytest.fixture
def machine(monkeypatch):
    """This process may run on ``cores`` cores; optional torchrun/SLURM
    variables."""

    def fake(cores, local_world_size=None, slurm_cpus=None):
        monkeypatch.setattr(
            os,
            'sched_getaffinity',
            lambda pid: set(range(cores)),
            raising=False,
        )
        for name, value in (
            ('LOCAL_WORLD_SIZE', local_world_size),
            ('SLURM_CPUS_PER_TASK', slurm_cpus),
        ):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, str(value))

    return fake


@pytest.mark.parametrize(
    'cores, local, slurm, expected',
    [
        (1, None, None, 0),  # one core: decode in the training process
        (2, None, None, 1),
        (6, None, None, 5),
        (9, None, None, 8),
        (64, None, None, 8),  # capped
        (32, 8, None, 3),  # torchrun, 8 ranks: 4 cores each
        (10, 4, None, 1),  # 2 cores each (the remainder unused)
        (2, 4, None, 0),  # fewer cores than ranks
        (64, None, 5, 4),  # srun --cpus-per-task 5 without binding
        (40, 8, 40, 4),  # sbatch 40 cpus + torchrun 8
    ],
)
def test_auto_num_workers(machine, cores, local, slurm, expected):
    machine(cores, local, slurm)
    assert workers.auto_num_workers() == expected


def test_recipe_resolves_auto_where_loaded(machine):
    assert Config.fromfile(RECIPE).train_dataloader.num_workers == 'auto'
    machine(6, local_world_size=2)
    cfg = load_config(RECIPE)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[name].num_workers == 2, name
        assert cfg[name].persistent_workers is True
    machine(1)
    cfg = load_config(RECIPE)
    assert cfg.train_dataloader.num_workers == 0
    # PyTorch refuses persistent workers without workers
    assert cfg.train_dataloader.persistent_workers is False
    # an option on the command line is resolved too
    machine(4)
    cfg = load_config(RECIPE, {'val_dataloader.num_workers': 'auto'})
    assert cfg.val_dataloader.num_workers == 3


def test_numbers_stay_and_bad_values_fail(machine):
    machine(4)
    cfg = dict(
        train_dataloader=dict(num_workers=7),
        val_dataloader=dict(num_workers='auto'),
        test_dataloader=None,
    )
    resolved = workers.resolve_num_workers(
        cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader')
    )
    assert resolved == dict(val_dataloader=3)
    assert cfg['train_dataloader']['num_workers'] == 7
    for bad in ('many', -1, 2.5, True):
        with pytest.raises(ConfigValueError, match='num_workers'):
            workers.resolve_num_workers(
                dict(train_dataloader=dict(num_workers=bad)),
                ('train_dataloader',),
            )
