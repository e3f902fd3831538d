"""A bad video read inside a dataloader worker reaches the user as one line:
torch's multi-line "Caught ... in DataLoader worker process N" wrapper is
reduced to the original message (tsm_plugin.errors.InputError)."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from torch.utils.data import DataLoader

from tests.helpers import DEMO, REPO, torch_threads
from tsm_plugin.datasets.video_io import VideoReadError
from tsm_plugin.registration import register_all_modules
from tsm_plugin.utils.config import load_config


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
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    with pytest.raises(VideoReadError) as err:
        next(iter(loader))
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


def test_test_cli_reports_a_bad_video_in_one_line(broken_set, tmp_path):
    root, video = broken_set
    model = MODELS.build(load_config(DEMO).model)
    checkpoint = tmp_path / 'untrained.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / 'tools' / 'test.py'),
            DEMO,
            str(checkpoint),
            '--data-root',
            str(root),
            '--work-dir',
            str(tmp_path / 'w'),
            '--num-workers',
            '1',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr[-3000:]
    assert lines[0].startswith(f'error: cannot read video {video}: ')
