"""SthV1Dataset: TSM's sorted class numbering (and mmaction2's CSV one),
one-line annotation errors, the exact numbered files the sampler's indices
decode, broken frame folders skipped or raised, and a prepared set's
bundles read to the same pixels."""

import json
import shutil

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import decode_steps
from tsm_plugin.datasets import frame_bundle
from tsm_plugin.datasets.frame_reader import VideoReadError
from tsm_plugin.datasets.ssv2 import AnnotationError
from tsm_plugin.datasets.video_io import (
    PREPARED_MARKER,
    BundleReader,
    open_video,
)
from tsm_plugin.errors import ConfigValueError
from tsm_plugin.testing.synthetic_sthv1 import CSV, VIDEO_DIR
from tsm_plugin.testing.synthetic_sthv1 import make_synthetic_sthv1 as make

TINY = dict(
    num_train_per_class=1,
    num_val_per_class=0,
    num_test_per_class=1,
    height=32,
    width=40,
    min_seconds=1.0,
    max_seconds=1.5,
    extra_classes=3,
    progress=False,
)


@pytest.fixture(scope='module')
def sthv1(tmp_path_factory):
    """8 classes x (1 train + 1 test) frame folders, 3 classes unused."""
    root = tmp_path_factory.mktemp('sthv1')
    make(str(root), **TINY)
    return root


def build(root, ann=CSV['train'], label=CSV['labels'], steps=(), **kw):
    init_default_scope('mmaction')
    return DATASETS.build(
        dict(
            type='SthV1Dataset',
            data_root=str(root),
            ann_file=ann,
            label_file=label,
            pipeline=list(steps),
            **kw,
        )
    )


def infos(ds):
    """The samples' dicts (``data_list`` is emptied by serialization)."""
    return [ds.get_data_info(i) for i in range(len(ds))]


def gen_label_sthv1(root):
    """TSM's tools/gen_label_sthv1.py rule, restated: right-strip each line
    of the labels CSV, sort, number; a row's class is its 2nd ';' field."""
    lines = (root / CSV['labels']).read_text().splitlines()
    index = {c: i for i, c in enumerate(sorted(x.rstrip() for x in lines))}
    rows = (root / CSV['train']).read_text().splitlines()
    return [
        (r.rstrip().split(';')[0], index[r.rstrip().split(';')[1]])
        for r in rows
    ]


def test_labels_are_numbered_as_gen_label_sthv1_or_as_the_csv(sthv1):
    names = (sthv1 / CSV['labels']).read_text().splitlines()
    assert len(names) == 11 and names != sorted(names)
    ds = build(sthv1)
    got = [(d['video_id'], d['label']) for d in infos(ds)]
    assert got == gen_label_sthv1(sthv1) and len(got) == 8
    assert ds.metainfo['classes'] == tuple(sorted(names))
    # one by hand: the sorted names start 'Letting ...', 'Moving ... down'
    by_id = dict(got)
    row = next(
        r
        for r in (sthv1 / CSV['train']).read_text().splitlines()
        if r.endswith(';Moving something down')
    )
    assert by_id[row.split(';')[0]] == 1
    info = ds.get_data_info(0)
    assert info['filename'] == str(sthv1 / VIDEO_DIR / info['video_id'])
    assert set(info) >= {'filename', 'label', 'video_id'}

    csv = build(sthv1, class_order='csv')
    assert csv.metainfo['classes'] == tuple(names)
    assert [(d['video_id'], d['label']) for d in infos(csv)] == [
        (vid, names.index(sorted(names)[lb])) for vid, lb in got
    ]
    assert dict(got) != {d['video_id']: d['label'] for d in infos(csv)}


def test_test_csv_is_unlabelled_and_needs_test_mode(sthv1):
    ds = build(sthv1, CSV['test'], test_mode=True)
    assert len(ds) == 8 and {d['label'] for d in infos(ds)} == {-1}
    first = (sthv1 / CSV['test']).read_text().split()[0]
    with pytest.raises(AnnotationError) as err:
        build(sthv1, CSV['test'])
    assert str(err.value) == (
        f'{sthv1 / CSV["test"]}:1: id {first} has no class (an unlabelled '
        'file such as -test.csv can only be used with test_mode=True)'
    )


@pytest.mark.parametrize(
    'rows, message',
    [
        ('1;Moving something up;x\n', "{ann}:1: expected '<id>;<class name>'"),
        (';Moving something up\n', "{ann}:1: expected '<id>;<class name>'"),
        (
            '\n7;Moving something sideways\n',
            "{ann}:2: id 7: class 'Moving something sideways' is not in "
            'the label file',
        ),
        (
            '7;Moving something up\n8;Throwing something\n7;Throwing '
            'something\n',
            '{ann}:3: duplicate id 7 (first on line 1)',
        ),
    ],
)
def test_a_bad_row_fails_in_one_line_naming_file_and_line(
    sthv1, tmp_path, rows, message
):
    ann = tmp_path / 'rows.csv'
    ann.write_text(rows)
    with pytest.raises(AnnotationError) as err:
        build(sthv1, str(ann))
    assert str(err.value).startswith(message.format(ann=ann))
    assert '\n' not in str(err.value)


def test_missing_files_and_a_bad_option_fail_in_one_line(sthv1, tmp_path):
    labels = tmp_path / 'labels.csv'
    labels.write_text('A\nB\nA\n')
    cases = [
        (
            dict(label=str(labels)),
            f"{labels}:3: class 'A' is listed twice (first on line 1)",
        ),
        (
            dict(label='nope.csv'),
            f'label file not found: {sthv1 / "nope.csv"}',
        ),
        (
            dict(ann='nope.csv'),
            f'annotation file not found: {sthv1 / "nope.csv"}',
        ),
        (
            dict(data_prefix=dict(video='frames')),
            f'frames folder not found: {sthv1 / "frames"} (data_prefix.'
            f'video for {sthv1 / CSV["train"]})',
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(AnnotationError) as err:
            build(sthv1, **kwargs)
        assert str(err.value) == message
    with pytest.raises(ConfigValueError, match='class_order must be one of'):
        build(sthv1, class_order='alphabetical')


# -- frames ---------------------------------------------------------------
GREY = 20  # frame file k (1-based) is a uniform grey of GREY * k


def grey_folder(folder, count, skip=()):
    """Frames 00001.jpg .. whose k-th file is uniformly GREY * k."""
    folder.mkdir(parents=True)
    for k in range(1, count + 1):
        if k not in skip:
            img = np.full((24, 32, 3), GREY * k, np.uint8)
            (folder / f'{k:05d}.jpg').write_bytes(
                frame_bundle.encode_jpeg(img)
            )


@pytest.fixture
def grey_set(sthv1, tmp_path):
    """A set of one labelled 10-frame grey folder, id 42 (sthv1's labels)."""
    root = tmp_path / 'grey'
    grey_folder(root / VIDEO_DIR / '42', 10)
    shutil.copy(sthv1 / CSV['labels'], root / CSV['labels'])
    (root / CSV['train']).write_text('42;Throwing something\n')
    return root


def file_numbers(imgs):
    """The 1-based file each decoded grey frame came from."""
    return [int(round(float(img.mean()) / GREY)) for img in imgs]


def test_sampled_indices_decode_exactly_their_numbered_files(grey_set):
    test = build(grey_set, steps=decode_steps(4, test_mode=True))
    out = test[0]
    # 10 frames, 4 segments of 2.5: centres floor(1.25), floor(3.75), ...
    assert out['frame_inds'].tolist() == [1, 3, 6, 8]
    assert out['total_frames'] == 10
    assert file_numbers(out['imgs']) == [2, 4, 7, 9]
    for img in out['imgs']:  # uniform: JPEG keeps it within 1 level
        assert int(img.max()) - int(img.min()) <= 2
    train = build(grey_set, steps=decode_steps(8))
    for _ in range(3):
        out = train[0]
        assert file_numbers(out['imgs']) == [i + 1 for i in out['frame_inds']]
    # a short video repeats frames (TSN), each decoded from its file
    out = build(grey_set, steps=decode_steps(16, test_mode=True))[0]
    assert file_numbers(out['imgs']) == [i + 1 for i in out['frame_inds']]
    assert len(set(out['frame_inds'].tolist())) == 10


def _break(root, kind):
    folder = root / VIDEO_DIR / '13'
    if kind == 'empty':
        folder.mkdir()
    elif kind == 'gap':
        grey_folder(folder, 3, skip=(2,))
    elif kind == 'corrupt':
        grey_folder(folder, 1)
        (folder / '00001.jpg').write_bytes(b'\xff\xd8 not a jpeg')
    elif kind == 'zero bytes':
        grey_folder(folder, 1)
        (folder / '00001.jpg').write_bytes(b'')
    return folder


BROKEN = {
    'missing': 'file not found',
    'empty': 'no frames (no 00001.jpg ... in the folder)',
    'gap': 'frame 00002.jpg is missing: the numbering of its 2 .jpg files '
    'has a gap (first unexpected: 00003.jpg)',
    'corrupt': 'frame 00001.jpg is not a decodable JPEG',
    'zero bytes': 'frame 00001.jpg is empty (0 bytes)',
}


@pytest.mark.parametrize('kind', list(BROKEN))
def test_a_broken_folder_is_skipped_in_training_and_raised_in_test(
    grey_set, kind
):
    folder = _break(grey_set, kind)
    (grey_set / CSV['train']).write_text(
        '13;Throwing something\n42;Throwing something\n'
    )
    train = build(grey_set, steps=decode_steps(4))
    assert train[0]['video_id'] == '42'
    assert train.bad_indices() == [0]
    test = build(grey_set, steps=decode_steps(4, True), test_mode=True)
    with pytest.raises(VideoReadError) as err:
        test[0]
    assert str(err.value) == f'cannot read video {folder}: {BROKEN[kind]}'


def test_a_prepared_set_reads_bundles_to_the_same_pixels(sthv1, tmp_path):
    """prepared.json and <id>.jpgbundle instead of the <id> folders (the
    folders' JPEG bytes packed as they are): the same CSVs, the same
    frames."""
    steps = decode_steps(8, test_mode=True)
    src = build(sthv1, steps=steps, test_mode=True)
    dst = tmp_path / 'prepared'
    (dst / VIDEO_DIR).mkdir(parents=True)
    for name in CSV.values():
        shutil.copy(sthv1 / name, dst / name)
    marker = dict(format='jpeg', suffix=frame_bundle.SUFFIX, quality=90)
    (dst / VIDEO_DIR / PREPARED_MARKER).write_text(json.dumps(marker))
    for info in infos(src)[:2]:
        files = sorted((sthv1 / VIDEO_DIR / info['video_id']).iterdir())
        bundle = frame_bundle.pack(f.read_bytes() for f in files)
        out = dst / VIDEO_DIR / (info['video_id'] + frame_bundle.SUFFIX)
        out.write_bytes(bundle)
    ds = build(dst, steps=steps, test_mode=True)
    with open_video(ds.get_data_info(0)['filename']) as reader:
        assert isinstance(reader, BundleReader)
    for i in range(2):
        a, b = src[i], ds[i]
        assert b['filename'] == str(dst / VIDEO_DIR / a['video_id'])
        assert b['total_frames'] == a['total_frames']
        assert b['frame_inds'].tolist() == a['frame_inds'].tolist()
        for x, y in zip(a['imgs'], b['imgs']):
            assert np.array_equal(x, y)
