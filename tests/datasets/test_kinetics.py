"""Kinetics400Dataset on real synthetic K400 sets: labels, file layouts,
list files, missing and broken videos, exact decoded frames."""

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from tests.helpers import decode_steps
from tsm_plugin import registration  # noqa: F401
from tsm_plugin.datasets import video_list
from tsm_plugin.datasets.kinetics import Kinetics400Dataset
from tsm_plugin.datasets.ssv2 import AnnotationError
from tsm_plugin.datasets.transforms import segment_indices
from tsm_plugin.datasets.video_io import VideoReadError
from tsm_plugin.errors import InputError
from tsm_plugin.testing.synthetic_ssv2 import write_video
from tsm_plugin.testing.synthetic_videos import make_synthetic_k400

SMALL = dict(height=32, fps=12, min_seconds=1.0, max_seconds=1.2)


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture(scope='module')
def flat(tmp_path_factory):
    """Flat CVDF layout: 8 classes x (2 train + 1 val + 1 test); 2
    training videos missing, 1 truncated."""
    root = tmp_path_factory.mktemp('k400_flat')
    return make_synthetic_k400(
        str(root),
        num_test_per_class=1,
        missing=2,
        broken=1,
        progress=False,
        **SMALL,
    )


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """ActivityNet crawler layout (class folders with spaces), 1 train
    video per class, no val."""
    root = tmp_path_factory.mktemp('k400_folders')
    return make_synthetic_k400(
        str(root),
        num_train_per_class=1,
        num_val_per_class=0,
        layout='class_folders',
        seed=1,
        progress=False,
        **SMALL,
    )


def _dataset(info, split='train', **kw):
    kw.setdefault('pipeline', decode_steps(4))
    return Kinetics400Dataset(
        f'annotations/{split}.csv',
        data_root=info['root'],
        data_prefix=dict(video=split),
        **kw,
    )


def _csv_labels(path):
    """{clip name: class name} as the CSV says."""
    with open(path, newline='') as f:
        return {
            f'{r["youtube_id"]}_{int(r["time_start"]):06d}_'
            f'{int(r["time_end"]):06d}': r['label']
            for r in csv.DictReader(f)
        }


@pytest.mark.parametrize('layout', ['flat', 'folders'])
def test_labels_are_the_sorted_class_names(flat, folders, layout):
    info = flat if layout == 'flat' else folders
    ds = _dataset(info)
    classes = ds.metainfo['classes']
    assert list(classes) == sorted(info['classes']) and len(classes) == 8
    truth = _csv_labels(info['train'])
    assert len(ds) == len(truth) - len(info['missing'])
    for i in range(len(ds)):
        item = ds.get_data_info(i)
        name = Path(item['filename']).stem
        assert re.fullmatch(r'[\w-]{11}_\d{6}_\d{6}', name)
        assert classes[item['label']] == truth[name]
        if layout == 'folders':  # found in its class folder (spaces)
            assert Path(item['filename']).parent.name == truth[name]


def test_a_label_file_sets_the_order(flat, tmp_path):
    names = sorted(flat['classes'], reverse=True)
    label_file = tmp_path / 'label_map.txt'
    # underscores in the file match the CSV's spaces
    label_file.write_text(''.join(n.replace(' ', '_') + '\n' for n in names))
    ds = _dataset(flat, 'val', label_file=str(label_file), test_mode=True)
    truth = _csv_labels(flat['val'])
    for i in range(len(ds)):
        item = ds.get_data_info(i)
        assert names[item['label']] == truth[item['video_id']]
    label_file.write_text('just one class\n')
    with pytest.raises(AnnotationError, match=r'line 2 .* is not in '):
        _dataset(flat, 'val', label_file=str(label_file), test_mode=True)


def test_mmaction2_list_files(folders, tmp_path):
    """``<relative path> <label>`` lines, class folders renamed with
    underscores as mmaction2's tools do: found through the index."""
    truth = _csv_labels(folders['train'])
    classes = sorted(folders['classes'])
    names = sorted(truth)
    lines = [
        f'{truth[n].replace(" ", "_")}/{n}.mp4 {classes.index(truth[n])}'
        for n in names
    ]
    ann = tmp_path / 'k400_train_list_videos.txt'
    ann.write_text('\n'.join(lines + ['gone/none_000000_000010.mp4 3']))
    ds = Kinetics400Dataset(
        str(ann),
        decode_steps(4),
        data_prefix=dict(video=str(Path(folders['root']) / 'train')),
    )
    assert len(ds) == len(names)
    assert [ds.get_data_info(i)['label'] for i in range(len(ds))] == [
        classes.index(truth[n]) for n in names
    ]
    assert ds.missing_videos == [
        (
            'gone/none_000000_000010.mp4',
            str(Path(folders['root']) / 'train/gone/none_000000_000010.mp4'),
        )
    ]
    ann.write_text(f'{names[0]}.mp4\n')  # no label: test_mode only
    with pytest.raises(AnnotationError, match='line 1 .*test_mode=True'):
        Kinetics400Dataset(str(ann), decode_steps(4))


def test_missing_videos_are_left_out_and_logged_once(flat, monkeypatch):
    lines = []
    monkeypatch.setattr(
        video_list, 'print_log', lambda msg, **kw: lines.append(msg)
    )
    monkeypatch.setattr(video_list, '_logged', set())
    ds = _dataset(flat)
    _dataset(flat)  # built again (as the Runner does): not logged again
    expected = [
        (name, str(Path(flat['root']) / 'train' / f'{name}.mp4'))
        for name in flat['missing']
    ]
    assert sorted(ds.missing_videos) == sorted(expected)
    assert len(lines) == 1
    assert lines[0].startswith(
        f'{Path(flat["root"]) / "annotations/train.csv"}: 14 usable of 16 '
        'listed; 2 missing, left out'
    )
    with pytest.raises(InputError, match="2 missing .*on_missing='raise'"):
        _dataset(flat, on_missing='raise')


def test_broken_video_skipped_in_training_raised_in_test_mode(flat):
    broken = flat['broken'][0]
    train = _dataset(flat)
    idx = next(
        i
        for i in range(len(train))
        if train.get_data_info(i)['filename'] == broken
    )
    assert train[idx]['filename'] == train.get_data_info(idx + 1)['filename']
    assert train.bad_indices() == [idx]
    test = _dataset(flat, test_mode=True)
    with pytest.raises(VideoReadError, match='not a readable video'):
        test[idx]


def test_unlabelled_test_csv(flat):
    ds = _dataset(flat, 'test', test_mode=True)
    assert len(ds) == 8
    assert {ds.get_data_info(i)['label'] for i in range(8)} == {-1}
    with pytest.raises(AnnotationError, match="no 'label' column"):
        _dataset(flat, 'test')


def test_bad_csv_is_one_line(tmp_path):
    (tmp_path / 'videos').mkdir()
    ann = tmp_path / 'train.csv'
    videos = dict(video=str(tmp_path / 'videos'))
    ann.write_text('label,youtube,time_start,time_end,split\n')
    with pytest.raises(AnnotationError, match='no column youtube_id in'):
        Kinetics400Dataset(str(ann), [], data_prefix=videos)
    ann.write_text('label,youtube_id,time_start,time_end\nx,abc,soon,10\n')
    with pytest.raises(AnnotationError, match="line 2: time_start 'soon'"):
        Kinetics400Dataset(str(ann), [], data_prefix=videos)


LEVEL0, STEP, N = 10, 10, 24  # frame k is uniform grey LEVEL0 + STEP * k


def grey_video(path, container):
    """A video whose frame k is uniform grey ``LEVEL0 + STEP * k``."""
    frames = [
        np.full((32, 40, 3), LEVEL0 + STEP * k, np.uint8) for k in range(N)
    ]
    write_video(str(path), frames, 12, 40, 32, container)


def frame_numbers(imgs):
    """The frame each decoded image is, from its grey level (H.264 and
    MPEG-4 keep a uniform level within 4 of 10 between frames)."""
    levels = np.array([img.mean() for img in imgs])
    numbers = np.round((levels - LEVEL0) / STEP).astype(int)
    assert np.abs(levels - (LEVEL0 + STEP * numbers)).max() < 4.5
    return numbers


@pytest.mark.parametrize('test_mode', [True, False])
def test_decoded_frames_are_the_sampled_ones(tmp_path, test_mode):
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations/val.csv').write_text(
        'label,youtube_id,time_start,time_end,split\n'
        'grey,abcdefghijk,3,13,val\n'
    )
    grey_video(tmp_path / 'val' / 'abcdefghijk_000003_000013.mp4', 'mp4')
    ds = Kinetics400Dataset(
        'annotations/val.csv',
        decode_steps(8, test_mode=test_mode),
        data_root=str(tmp_path),
        data_prefix=dict(video='val'),
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


def test_both_layouts_list_the_same_clip_once(folders, tmp_path):
    """A clip found flat and in a class folder is read from the flat one;
    the index counts the duplicate."""
    root = Path(folders['root'])
    video = next((root / 'train').glob('*/*.mp4'))
    shutil.copy(video, tmp_path / video.name)
    shutil.copytree(video.parent, tmp_path / video.parent.name)
    index = video_list.VideoIndex(str(tmp_path))
    assert index.find(video.stem) == str(tmp_path / video.name)
    assert index.duplicates == 1 and len(index) == len(
        list(video.parent.glob('*.mp4'))
    )
    assert index.class_folder(video.parent.name.replace(' ', '_')) == (
        video.parent.name
    )
