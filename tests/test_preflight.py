"""tools/preflight.py: passes on a good set, fails (exit 1) and names what is
wrong on a broken one."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tsm_plugin.apis import preflight

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / 'configs' / 'tsm_demo_synthetic.py')


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _table(out):
    rows = {}
    for line in out.splitlines():
        for status in (' PASS ', ' FAIL ', ' WARN ', ' SKIP '):
            if status in line:
                name, detail = line.split(status, 1)
                rows[name.strip()] = (status.strip(), detail.strip())
    return rows


def test_preflight_passes_on_the_synthetic_set(synthetic_ssv2, tmp_path,
                                               capsys):
    status = preflight.main([DEMO, '--data-root', str(synthetic_ssv2),
                             '--workers', '2', '--work-dir', str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0, out
    rows = _table(out)
    assert rows['paths'][0] == 'PASS'
    assert rows['annotations (train_dataloader)'] == (
        'PASS', 'train.json: 16 items, 8 of 8 classes used')
    assert rows['annotations (val_dataloader)'] == (
        'PASS', 'validation.json: 8 items, 8 of 8 classes used')
    assert rows['videos'][0] == 'PASS'
    assert rows['videos'][1].startswith('24 videos decode completely')
    assert '24/24' in err  # the progress bar
    assert rows['pretrained weights'][0] == 'SKIP'
    assert rows['forward+backward (cpu)'][0] == 'PASS'
    from mmengine.config import Config
    demo = Config.fromfile(DEMO)  # the batch is the demo's training input
    frames = next(t['num_clips'] for t in demo.train_pipeline
                  if t['type'] == 'SegmentSampleFrames')
    width, height = demo.size
    assert (f'input 2x{frames}x3x{height}x{width}'
            in rows['forward+backward (cpu)'][1])
    assert rows['checkpoint save/reload'][0] == 'PASS'
    assert out.rstrip().endswith('preflight: passed (0 failed, 0 warnings)')
    assert (tmp_path / 'preflight_bad_videos.txt').read_text() == ''
    assert not list(tmp_path.glob('*.pth'))  # its checkpoint is cleaned up


@pytest.fixture
def broken_set(synthetic_ssv2, tmp_path):
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    videos = root / '20bn-something-something-v2'
    train = json.loads((root / 'labels' / 'train.json').read_text())
    val = json.loads((root / 'labels' / 'validation.json').read_text())
    bad_train = videos / f"{train[4]['id']}.webm"
    bad_val = videos / f"{val[2]['id']}.webm"
    bad_train.write_bytes(bad_train.read_bytes()[:300])  # cut off
    bad_val.write_text('not a video')
    return root, bad_train, bad_val


def test_preflight_fails_and_lists_bad_videos(broken_set, tmp_path, capsys):
    root, bad_train, bad_val = broken_set
    bad_list = tmp_path / 'bad.txt'
    status = preflight.main([
        DEMO, '--data-root', str(root), '--workers', '2',
        '--work-dir', str(tmp_path / 'work'), '--bad-list', str(bad_list),
        # the model is configured for more classes than labels.json holds
        '--cfg-options', 'model.cls_head.num_classes=12'])
    out, _ = capsys.readouterr()
    assert status == 1, out
    rows = _table(out)
    assert rows['annotations (train_dataloader)'] == (
        'FAIL', 'train.json: label file has 8 classes, '
        'model.cls_head.num_classes = 12')
    status_, detail = rows['videos']
    assert status_ == 'FAIL'  # the val split raises on bad videos
    assert detail.startswith(f'2 of 24 unusable -> {bad_list}')
    assert "(1 in a split with on_bad_video='raise')" in detail
    listed = dict(line.split('\t') for line in
                  bad_list.read_text().splitlines())
    assert set(listed) == {str(bad_train), str(bad_val)}
    assert 'not a readable video' in listed[str(bad_val)]
    # The rest still ran: one run shows every problem at once.
    assert rows['forward+backward (cpu)'][0] == 'PASS'
    assert rows['annotations (val_dataloader)'][0] == 'FAIL'
    assert out.rstrip().endswith('preflight: FAILED (3 failed, 0 warnings)')


def test_preflight_cli_names_missing_paths(synthetic_ssv2, tmp_path):
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2 / 'labels', root / 'labels')
    (root / 'labels' / 'validation.json').unlink()
    out = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'preflight.py'), DEMO,
         '--data-root', str(root), '--workers', '1', '--work-dir',
         str(tmp_path / 'work')],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})
    assert out.returncode == 1, out.stderr[-2000:]
    rows = _table(out.stdout)
    videos = root / '20bn-something-something-v2'
    assert rows['paths'] == ('FAIL', (
        f'missing: data_prefix.video {videos}; '
        f"ann_file {root / 'labels' / 'validation.json'}"))
    assert rows['annotations (train_dataloader)'] == (
        'FAIL', f'videos folder not found: {videos} (data_prefix.video for '
        f"{root / 'labels' / 'train.json'})")
