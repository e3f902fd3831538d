"""The synthetic SSv1-format generator: the official layout, an unsorted
labels CSV, the SSv2 set's classes and splits, same seed same bytes."""

import pytest

from tsm_plugin.datasets.frame_bundle import decode_jpeg
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.testing.synthetic_ssv2 import TEMPLATES
from tsm_plugin.testing.synthetic_sthv1 import (
    CSV,
    VIDEO_DIR,
    class_names,
    make_synthetic_sthv1,
)

TINY = dict(
    num_train_per_class=1,
    num_val_per_class=1,
    num_test_per_class=1,
    height=32,
    width=40,
    min_seconds=1.0,
    max_seconds=1.5,
    progress=False,
)


def snapshot(root):
    """Every file of a set: {relative path: bytes}."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp('sthv1')
    return root, make_synthetic_sthv1(str(root), extra_classes=2, **TINY)


def test_layout_csvs_and_frames(made):
    root, out = made
    assert out['num_classes'] == 10
    assert out['counts'] == dict(train=8, validation=8, test=8)
    assert out['label_file'] == str(root / CSV['labels'])
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [VIDEO_DIR, *CSV.values()]
    )
    names = (root / CSV['labels']).read_text().splitlines()
    real = [t.replace('[', '').replace(']', '') for t in TEMPLATES]
    assert names == real + [
        'Placeholder class 000 without videos',
        'Placeholder class 001 without videos',
    ]
    assert names == class_names(2) and names != sorted(names)
    assert 'Pushing something from left to right' in names
    ids = []
    for split in ('train', 'validation'):
        rows = [
            r.split(';')
            for r in (root / CSV[split]).read_text().split('\n')
            if r
        ]
        assert sorted(name for _, name in rows) == sorted(real)
        ids += [vid for vid, _ in rows]
    tests = (root / CSV['test']).read_text().split()
    assert len(tests) == 8 and all(';' not in r for r in tests)
    ids += tests
    assert len(set(ids)) == 24 and all(i.isdigit() for i in ids)
    folders = {p.name: p for p in (root / VIDEO_DIR).iterdir()}
    assert set(folders) == set(ids)
    for folder in folders.values():  # 1-1.5 s at 12 fps, numbered from 1
        frames = sorted(p.name for p in folder.iterdir())
        assert 12 <= len(frames) <= 18
        assert frames == [f'{k:05d}.jpg' for k in range(1, len(frames) + 1)]
    img = decode_jpeg((folder / '00001.jpg').read_bytes())
    assert img.shape == (32, 40, 3)


def test_same_seed_same_bytes_and_no_silent_overwrite(tmp_path):
    args = dict(TINY, num_val_per_class=0, num_test_per_class=0)
    a, b = tmp_path / 'a', tmp_path / 'b'
    make_synthetic_sthv1(str(a), **args)
    make_synthetic_sthv1(str(b), **args)
    first = snapshot(a)
    assert sum(k.endswith('.jpg') for k in first) >= 8 * 12
    assert snapshot(b) == first
    with pytest.raises(InputError, match='already holds a set'):
        make_synthetic_sthv1(str(a), **args)
    make_synthetic_sthv1(str(a), seed=1, overwrite=True, **args)
    rows = (a / CSV['train']).read_text()
    assert rows != first[CSV['train']].decode()
    # the old set is gone: every folder is one of the new set's
    ids = {row.split(';')[0] for row in rows.splitlines()}
    assert {p.name for p in (a / VIDEO_DIR).iterdir()} == ids


def test_bad_arguments_are_one_line(tmp_path):
    with pytest.raises(ConfigValueError, match='extra_classes must be >= 0'):
        make_synthetic_sthv1(str(tmp_path), extra_classes=-1, **TINY)
    with pytest.raises(ConfigValueError, match='even and >= 16'):
        make_synthetic_sthv1(str(tmp_path), **dict(TINY, height=15))
    assert not (tmp_path / VIDEO_DIR).exists()
