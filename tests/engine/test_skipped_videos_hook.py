"""Training with unusable videos and dataloader workers: it finishes, and
the per-epoch count of replaced samples is logged."""
import json
import shutil
import sys
from pathlib import Path

import torch

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _tiny  # noqa: E402


def test_training_skips_bad_videos_in_workers(synthetic_ssv2, tmp_path,
                                              monkeypatch):
    from mmengine.runner import Runner
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    items = json.loads((root / 'labels' / 'train.json').read_text())
    videos = root / '20bn-something-something-v2'
    (videos / f"{items[0]['id']}.webm").write_bytes(b'')
    (videos / f"{items[3]['id']}.webm").write_text('not a video')
    cfg = _tiny.tiny_cfg(root, tmp_path / 'work', epochs=1, workers=2,
                         indices=6)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = Runner.from_cfg(cfg)
        warnings = []
        monkeypatch.setattr(runner.logger, 'warning', warnings.append)
        runner.train()
    finally:
        _tiny.stop_workers(runner)
        torch.set_num_threads(threads)
    assert runner.iter == 3 and (tmp_path / 'work' / 'epoch_1.pth').exists()
    assert [w for w in warnings if 'replaced' in w] == [
        'train epoch 1: 2 samples replaced because their video cannot be '
        'used (2 distinct bad files so far, each logged once above; '
        'tools/preflight.py lists them all)']
