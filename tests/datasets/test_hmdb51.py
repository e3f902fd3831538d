"""HMDB51Dataset on a real synthetic HMDB51 set: the official split flags,
labels, malformed split files, missing videos, exact decoded frames."""

import shutil
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

from tests.datasets.test_kinetics import N, frame_numbers, grey_video
from tests.helpers import decode_steps
from tsm_plugin import registration  # noqa: F401
from tsm_plugin.datasets.hmdb51 import HMDB51Dataset
from tsm_plugin.datasets.ssv2 import AnnotationError
from tsm_plugin.datasets.transforms import segment_indices
from tsm_plugin.testing.synthetic_videos import make_synthetic_hmdb51


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture(scope='module')
def hmdb(tmp_path_factory):
    """8 classes x 3 .avi videos (1 train, 1 test, 1 unused per split);
    one video of split 1's training set not written."""
    root = tmp_path_factory.mktemp('hmdb51')
    return make_synthetic_hmdb51(
        str(root),
        missing=1,
        height=32,
        min_seconds=1.0,
        max_seconds=1.2,
        progress=False,
    )


def _dataset(root, **kw):
    kw.setdefault('pipeline', decode_steps(4))
    return HMDB51Dataset(data_root=str(root), **kw)


def _members(ds):
    classes = ds.metainfo['classes']
    out = set()
    for i in range(len(ds)):
        item = ds.get_data_info(i)
        path = Path(item['filename'])
        assert classes[item['label']] == path.parent.name
        out.add(f'{path.parent.name}/{path.name}')
    return out


@pytest.mark.parametrize('split', [1, 2, 3])
def test_each_split_reads_its_flags(hmdb, split):
    flags = hmdb['flags'][split]
    for subset, flag in (('train', '1'), ('test', '2')):
        ds = _dataset(hmdb['root'], split=split, subset=subset)
        assert ds.metainfo['classes'] == tuple(sorted(hmdb['classes']))
        listed = {v for v, f in flags.items() if f == flag}
        assert _members(ds) == listed - set(hmdb['missing'])
        assert [m for m, _ in ds.missing_videos] == sorted(
            listed & set(hmdb['missing'])
        )
    # the splits differ, and every split leaves a video of each class unused
    unused = {v for v, f in flags.items() if f == '0'}
    assert len(unused) == 8
    assert flags != hmdb['flags'][split % 3 + 1]


def _copy(hmdb, tmp_path):
    root = tmp_path / 'hmdb'
    root.mkdir()
    (root / 'hmdb51').symlink_to(hmdb['video_dir'])
    shutil.copytree(hmdb['split_dir'], root / 'splits')
    return root


def test_bad_split_files_are_one_line(hmdb, tmp_path):
    root = _copy(hmdb, tmp_path)
    name = sorted(hmdb['classes'])[0]
    first = root / 'splits' / f'{name}_test_split1.txt'
    good = first.read_text()
    first.write_text(good + 'no_flag.avi\n')
    with pytest.raises(AnnotationError, match=r'line 4: expected "<video>'):
        _dataset(root, split_dir='splits')
    first.write_text(good + 'odd.avi 3\n')
    with pytest.raises(AnnotationError, match="line 4: unknown flag '3'"):
        _dataset(root, split_dir='splits')
    first.unlink()
    with pytest.raises(AnnotationError, match=f'{name} has no split file'):
        _dataset(root, split_dir='splits')
    with pytest.raises(AnnotationError, match='split must be 1, 2 or 3'):
        _dataset(root, split=4)


@pytest.mark.parametrize('test_mode', [True, False])
def test_decoded_frames_are_the_sampled_ones(tmp_path, test_mode):
    (tmp_path / 'splits').mkdir()
    (tmp_path / 'splits/grey_test_split1.txt').write_text('g.avi 2 \n')
    grey_video(tmp_path / 'hmdb51' / 'grey' / 'g.avi', 'avi')
    ds = _dataset(
        tmp_path,
        pipeline=decode_steps(8, test_mode=test_mode),
        split_dir='splits',
        subset='test',
        test_mode=test_mode,
    )
    out = ds[0]
    assert out['total_frames'] == N
    assert frame_numbers(out['imgs']).tolist() == out['frame_inds'].tolist()
    if test_mode:
        assert (
            out['frame_inds'].tolist() == segment_indices(N, 8, True).tolist()
        )
    else:  # one frame in each of the 8 segments of 3 frames
        assert (out['frame_inds'] // 3).tolist() == list(range(8))
