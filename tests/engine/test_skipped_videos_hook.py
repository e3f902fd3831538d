"""Training with unusable videos and dataloader workers: it finishes, and
the per-epoch count of replaced samples is logged."""

import json
import shutil

import pytest

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _tiny
from tests.helpers import stop_workers, torch_threads

pytestmark = pytest.mark.slow  # a Runner training with 2 workers


def test_training_skips_bad_videos_in_workers(
    synthetic_ssv2, tmp_path, monkeypatch
):
    from mmengine.runner import Runner

    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    items = json.loads((root / 'labels' / 'train.json').read_text())
    videos = root / '20bn-something-something-v2'
    (videos / f'{items[0]["id"]}.webm').write_bytes(b'')
    (videos / f'{items[3]["id"]}.webm').write_text('not a video')
    cfg = _tiny.reliability_cfg(
        root, tmp_path / 'work', epochs=1, workers=2, indices=6
    )
    # The scalars go where a real run's go: <work_dir>/<time>/vis_data.
    cfg.visualizer = dict(
        type='ActionVisualizer', vis_backends=[dict(type='LocalVisBackend')]
    )
    with torch_threads(1):
        runner = Runner.from_cfg(cfg)
        warnings = []
        monkeypatch.setattr(runner.logger, 'warning', warnings.append)
        try:
            runner.train()
        finally:
            stop_workers(runner)
    assert runner.iter == 3 and (tmp_path / 'work' / 'epoch_1.pth').exists()
    assert [w for w in warnings if 'replaced' in w] == [
        'train epoch 1: 2 samples replaced because their video cannot be '
        'used (2 distinct bad files so far, each logged once above; '
        'tools/preflight.py lists them all)'
    ]
    scalars = list((tmp_path / 'work').glob('*/vis_data/scalars.json'))
    assert len(scalars) == 1, scalars
    records = [
        json.loads(line) for line in scalars[0].read_text().splitlines()
    ]
    skipped = [r for r in records if 'train/skipped_videos' in r]
    assert skipped == [{'train/skipped_videos': 2, 'step': 3}], records
