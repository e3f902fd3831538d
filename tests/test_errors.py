"""A bad video read inside a dataloader worker reaches the user as one line:
torch's multi-line "Caught ... in DataLoader worker process N" wrapper is
reduced to the original message (tsm_plugin.errors.InputError)."""

import json
import shutil

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from torch.utils.data import DataLoader

from tests.helpers import (
    DEMO,
    one_thread_fixture,
    stop_orphan_workers,
    torch_threads,
)
from tsm_plugin.datasets.video_io import VideoReadError
from tsm_plugin.registration import register_all_modules
from tsm_plugin.utils.config import load_config

one_thread = one_thread_fixture('module')


@pytest.fixture(scope='module')
def broken_set(synthetic_ssv2, tmp_path_factory):
    """A copy of the synthetic set whose first validation video is not a
    video; returns (root, that video's path)."""
    register_all_modules()  # the tests build from mmaction's registries
    root = tmp_path_factory.mktemp('broken') / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    first = json.loads((root / 'labels' / 'validation.json').read_text())[0]
    video = root / '20bn-something-something-v2' / f'{first["id"]}.webm'
    video.write_text('not a video')
    return root, video


def _first_error(dataset, workers):
    batches = iter(DataLoader(dataset, batch_size=None, num_workers=workers))
    try:
        with pytest.raises(VideoReadError) as err:
            next(batches)
    finally:  # now, not whenever the traceback that holds it is collected
        if workers:
            batches._shutdown_workers()
    return str(err.value)


def test_worker_error_is_the_original_one_line(broken_set):
    root, video = broken_set
    cfg = load_config(DEMO)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(
        data_root=str(root), test_mode=True, on_bad_video='raise'
    )
    dataset = DATASETS.build(dataset_cfg)
    with torch_threads(1):
        in_worker = _first_error(dataset, workers=1)
        in_process = _first_error(dataset, workers=0)
    assert in_worker.startswith(f'cannot read video {video}: '), in_worker
    assert '\n' not in in_worker and 'DataLoader worker' not in in_worker
    assert in_worker == in_process  # nothing added, nothing lost


@pytest.mark.slow
def test_test_cli_reports_a_bad_video_in_one_line(broken_set, tmp_path, capfd):
    """tools/test.py's body with a dataloader worker: status 2 and one line
    on stderr, the workers' included (``capfd``: the file descriptors). A
    real tools/test.py process is tested in tests/engine/test_checkpoint.py.
    """
    from tsm_plugin.apis import test as test_api

    root, video = broken_set
    model = MODELS.build(load_config(DEMO).model)
    checkpoint = tmp_path / 'untrained.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    capfd.readouterr()
    status = test_api.main(
        [
            DEMO,
            str(checkpoint),
            '--data-root',
            str(root),
            '--work-dir',
            str(tmp_path / 'w'),
            '--num-workers',
            '1',
        ]
    )
    stop_orphan_workers()
    err = capfd.readouterr().err
    assert status == 2, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f'error: cannot read video {video}: ')
