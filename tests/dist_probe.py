"""Test-only hook for tests/test_distributed.py (imported by the training
processes through ``custom_imports``; not a test module).

Every rank writes what it saw to ``<work_dir>/probe/rank<R>.json``: the
process group's backend, the optimizer's initial learning rates, a digest of
its weights at the start of training and after each epoch, and the
sampler's indices per epoch. :class:`KillRankHook` SIGKILLs one rank at a
given iteration of a job's first attempt (the restart test). Importing it
also has the rank format each config once (as the pytest process does,
``tests/conftest.py``).
"""

import hashlib
import json
import os
import os.path as osp
import signal
import time

from mmaction.registry import HOOKS
from mmengine.dist import get_backend, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from tests.helpers import format_each_config_once
from tsm_plugin.engine.distributed import elastic_restart

format_each_config_once()


def weights_digest(state_dict: dict) -> str:
    """sha256 of every tensor's bytes, in key order (bit-exact equality)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class RankProbeHook(Hook):
    """Record per-rank facts; LOWEST so the stock hooks have run first."""

    priority = 'LOWEST'

    def __init__(self):
        self.record = dict(epochs={})

    def _model(self, runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _dump(self, runner):
        self.record.update(
            rank=get_rank(), world_size=get_world_size(), backend=get_backend()
        )
        path = osp.join(runner.work_dir, 'probe', f'rank{get_rank()}.json')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(self.record, f)

    def before_train(self, runner):
        optimizer = runner.optim_wrapper.optimizer
        self.record['initial_lr'] = [
            g['initial_lr'] for g in optimizer.param_groups
        ]
        self.record['start'] = dict(
            iter=runner.iter,
            epoch=runner.epoch,
            digest=weights_digest(self._model(runner).state_dict()),
        )
        self._dump(runner)

    def before_train_epoch(self, runner):
        sampler = runner.train_dataloader.sampler
        self.record['epochs'][str(runner.epoch + 1)] = dict(
            indices=[int(i) for i in sampler]
        )

    def after_train_epoch(self, runner):
        epoch = self.record['epochs'][str(runner.epoch + 1)]
        epoch['digest'] = weights_digest(self._model(runner).state_dict())
        self._dump(runner)


@HOOKS.register_module()
class KillRankHook(Hook):
    """SIGKILL rank ``rank`` before iteration ``iteration`` (0-based) of
    a job's first attempt (not a restart: ``elastic_restart()``), once
    ``last_checkpoint`` names ``iter_<iteration>.pth``: a checkpoint to
    resume from exists, whatever the other rank's timing."""

    priority = 'LOWEST'

    def __init__(self, rank: int, iteration: int, timeout: float = 60):
        self.rank = rank
        self.iteration = iteration
        self.timeout = timeout

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if (
            runner.iter != self.iteration
            or get_rank() != self.rank
            or elastic_restart() is not None
        ):
            return
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        wanted = f'iter_{self.iteration}.pth'
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if osp.isfile(pointer):
                with open(pointer) as f:
                    if osp.basename(f.read().strip()) == wanted:
                        self._kill(runner)
            time.sleep(0.02)
        raise RuntimeError(f'{pointer} never named {wanted}')

    @staticmethod
    def _kill(runner):
        """Note the time (``probe/killed_at``), then die as an OOM kill
        or a lost node would: no handler, no cleanup."""
        path = osp.join(runner.work_dir, 'probe', 'killed_at')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(repr(time.time()))
        os.kill(os.getpid(), signal.SIGKILL)
