"""A toy mmengine Runner (linear model, random tensors) for checkpoint tests,
and a toy image set for the precision tests' runners.

The checkpoint machinery does not depend on the model, so these tests run in
well under a second per training; resume exactness is tested on the real
TSM stack in test_preemption.py.
"""

import os
import signal
import uuid

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch.utils.data import Dataset


class ToyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __init__(self, n=8):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g)
        self.y = torch.randint(0, 2, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], labels=self.y[idx])


class ImageSet(Dataset):
    """``n`` random 3x8x8 images, each seeded by its index; labels 0, 1,
    0, ..."""

    metainfo = dict(classes=('a', 'b'))

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 8, 8, generator=g), labels=i % 2)


def image_loader(n: int) -> dict:
    """A dataloader config over an :class:`ImageSet` of ``n``: batches of
    2 in order, loaded in the process."""
    return dict(
        dataset=ImageSet(n),
        batch_size=2,
        num_workers=0,
        collate_fn=dict(type='default_collate'),
        sampler=dict(type='DefaultSampler', shuffle=False),
    )


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, inputs, labels, mode='tensor'):
        logits = self.fc(inputs)
        if mode == 'loss':
            return dict(loss=torch.nn.functional.cross_entropy(logits, labels))
        return logits


class SigtermAt(Hook):
    """Sends this process SIGTERM (what SLURM sends) during the iterations
    numbered ``at`` (1-based), for a PreemptionHook to act on."""

    priority = 'HIGHEST'

    def __init__(self, *at):
        self.at = set(at)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 in self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def make_runner(
    work_dir,
    max_epochs=3,
    resume=False,
    load_from=None,
    max_keep_ckpts=1,
    custom_hooks=(),
    resumable=False,
    workers=0,
):
    """A toy Runner saving with AtomicCheckpointHook every epoch.

    ``resumable``: the plugin's ResumableEpochBasedTrainLoop and
    ResumableSampler (a resume from a mid-epoch ``iter_N.pth`` continues at
    the next batch) instead of mmengine's loop and DefaultSampler.
    ``workers``: persistent dataloader workers (0: load in the process).
    """
    from mmengine.runner import Runner

    from tsm_plugin.engine.hooks import AtomicCheckpointHook
    from tsm_plugin.engine.loops import ResumableEpochBasedTrainLoop
    from tsm_plugin.engine.samplers import ResumableSampler

    if resumable:
        sampler = dict(type=ResumableSampler, shuffle=True)
        train_cfg = dict(
            type=ResumableEpochBasedTrainLoop, max_epochs=max_epochs
        )
    else:
        sampler = dict(type='DefaultSampler', shuffle=True)
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            batch_size=2,
            num_workers=workers,
            persistent_workers=workers > 0,
            collate_fn=dict(type='default_collate'),
            sampler=sampler,
        ),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type=AtomicCheckpointHook,
                interval=1,
                max_keep_ckpts=max_keep_ckpts,
            ),
        ),
        custom_hooks=list(custom_hooks),
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        default_scope='mmengine',
        experiment_name=f'toy_{uuid.uuid4().hex}',
    )
