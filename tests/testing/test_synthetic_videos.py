"""The synthetic Kinetics-400 and HMDB51 sets: official layouts, codecs,
missing and broken files, split flags, and the same bytes from a seed."""

import csv
import re
from pathlib import Path

import av
import pytest

from tsm_plugin.datasets.video_io import VideoReadError, open_video
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.testing.synthetic_videos import (
    hmdb51_flags,
    make_synthetic_hmdb51,
    make_synthetic_k400,
)

TINY = dict(height=32, min_seconds=0.5, max_seconds=0.6, progress=False)


def _files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in Path(root).rglob('*')
        if p.is_file()
    }


def _codec(path):
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.name


def test_k400_layout_missing_broken_and_seed(tmp_path):
    kw = dict(TINY, num_train_per_class=1, num_val_per_class=0)
    info = make_synthetic_k400(
        str(tmp_path / 'a'), layout='class_folders', missing=1, broken=1, **kw
    )
    again = make_synthetic_k400(
        str(tmp_path / 'b'), layout='class_folders', missing=1, broken=1, **kw
    )
    assert _files(info['root']) == _files(again['root'])
    root = Path(info['root'])
    assert sorted(p.name for p in (root / 'annotations').iterdir()) == [
        'train.csv'
    ]
    with open(info['train'], newline='') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        'label',
        'youtube_id',
        'time_start',
        'time_end',
        'split',
    ]
    assert len(rows) == 8 and {r['label'] for r in rows} == set(
        info['classes']
    )
    written = sorted((root / 'train').glob('*/*.mp4'))
    assert len(written) == 7  # 8 listed, 1 missing
    for row in rows:
        name = (
            f'{row["youtube_id"]}_{int(row["time_start"]):06d}_'
            f'{int(row["time_end"]):06d}'
        )
        assert re.fullmatch(r'[A-Za-z0-9_-]{11}_\d{6}_\d{6}', name)
        path = root / 'train' / row['label'] / f'{name}.mp4'
        assert path.exists() == (name not in info['missing'])
    good = next(p for p in written if str(p) not in info['broken'])
    assert _codec(good) == 'h264'
    with pytest.raises(VideoReadError, match='not a readable video'):
        open_video(info['broken'][0], 'pyav')
    with pytest.raises(InputError, match='already holds a set'):
        make_synthetic_k400(info['root'], **kw)
    with pytest.raises(ConfigValueError, match='layout must be one of'):
        make_synthetic_k400(str(tmp_path / 'c'), layout='nested', **kw)


def test_k400_flat_with_an_unlabelled_test_split(tmp_path):
    info = make_synthetic_k400(
        str(tmp_path),
        num_train_per_class=0,
        num_val_per_class=0,
        num_test_per_class=1,
        **TINY,
    )
    assert Path(info['test']).read_text().splitlines()[0] == (
        'youtube_id,time_start,time_end,split'
    )
    assert len(list((tmp_path / 'test').glob('*.mp4'))) == 8


def test_hmdb51_layout_flags_and_seed(tmp_path):
    info = make_synthetic_hmdb51(
        str(tmp_path / 'a'), videos_per_class=3, **TINY
    )
    again = make_synthetic_hmdb51(
        str(tmp_path / 'b'), videos_per_class=3, **TINY
    )
    assert _files(info['root']) == _files(again['root'])
    splits = Path(info['split_dir'])
    assert len(list(splits.iterdir())) == 8 * 3
    for cls in info['classes']:
        assert re.fullmatch(r'[a-z_]+', cls)
        videos = sorted(p.name for p in Path(info['video_dir'], cls).iterdir())
        assert len(videos) == 3 and all(v.endswith('.avi') for v in videos)
        for split in (1, 2, 3):
            lines = (splits / f'{cls}_test_split{split}.txt').read_text()
            pairs = [line.split() for line in lines.splitlines()]
            assert [v for v, _ in pairs] == videos
            assert sorted(f for _, f in pairs) == ['0', '1', '2']
            assert [f for _, f in pairs] == hmdb51_flags(3, split)
    assert _codec(Path(info['video_dir'], cls, videos[0])) == 'mpeg4'
    # every video is trained on in exactly one split of three
    assert [hmdb51_flags(3, s) for s in (1, 2, 3)] == [
        ['1', '2', '0'],
        ['2', '0', '1'],
        ['0', '1', '2'],
    ]
