"""Each kind of unusable video under both policies, in worker processes too.

A copy of the synthetic set gets one bad video of each kind at the even
positions of train.json; the odd positions stay good, so "skip" must return
the next sample.
"""

import json
import shutil

import av
import numpy as np
import pytest
import torch

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tsm_plugin.datasets import bad_videos
from tsm_plugin.datasets.ssv2 import SSv2Dataset
from tsm_plugin.datasets.video_io import VideoReadError
from tsm_plugin.errors import InputError
from tsm_plugin.testing.synthetic_ssv2 import write_webm

PIPELINE = [
    dict(type='VideoInit'),
    dict(type='SegmentSampleFrames', num_clips=4, test_mode=True),
    dict(type='VideoDecode'),
]


def _frames(n, w, h):
    """n flat grey frames, 100, 110, 120...: decoded values tell frames."""
    return (np.full((h, w, 3), 100 + 10 * i, np.uint8) for i in range(n))


def _cut(good, path):
    """A download cut inside frame 9 (bytes up to there)."""
    with av.open(str(good)) as c:
        packets = [p for p in c.demux(video=0) if p.size]
    path.write_bytes(good.read_bytes()[: packets[8].pos])


def _no_frames(good, path):
    with av.open(str(path), 'w', format='webm') as out:
        s = out.add_stream('libvpx-vp9', rate=12)
        s.width = s.height = 32
        s.pix_fmt = 'yuv420p'
        out.start_encoding()


# kind -> (how to damage the file, what the one-line reason says)
KINDS = {
    'missing': (lambda good, p: p.unlink(), 'file not found'),
    'empty': (lambda good, p: p.write_bytes(b''), 'empty file'),
    'truncated': (_cut, 'truncated'),
    'not_a_video': (
        lambda good, p: p.write_text('hello, not a video\n'),
        'not a readable video',
    ),
    'no_frames': (_no_frames, 'not a readable video'),
    'too_few_frames': (
        lambda good, p: write_webm(str(p), _frames(3, 64, 48), 12, 64, 48),
        'fewer than min_frames=4',
    ),
    'tiny': (
        lambda good, p: write_webm(str(p), _frames(10, 6, 4), 12, 6, 4),
        r'6x4 px|decoding failed',
    ),  # decord cannot even decode 6x4
}
POSITION = {kind: 2 * i for i, kind in enumerate(KINDS)}
ODD_SIZE = 2 * len(KINDS)  # 33x25: odd, but usable


@pytest.fixture(scope='module')
def bad_set(synthetic_ssv2, tmp_path_factory):
    root = tmp_path_factory.mktemp('bad_ssv2')
    shutil.copytree(synthetic_ssv2, root, dirs_exist_ok=True)
    items = json.loads((root / 'labels' / 'train.json').read_text())
    videos = root / '20bn-something-something-v2'
    for kind, (damage, _) in KINDS.items():
        path = videos / f'{items[POSITION[kind]]["id"]}.webm'
        damage(videos / f'{items[1]["id"]}.webm', path)
    write_webm(
        str(videos / f'{items[ODD_SIZE]["id"]}.webm'),
        _frames(10, 33, 25),
        12,
        33,
        25,
    )
    return root, [item['id'] for item in items]


def _dataset(root, pipeline=PIPELINE, **kwargs):
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    kwargs.setdefault('min_frames', 4)  # so the 3-frame video is "too few"
    return SSv2Dataset(
        ann_file='labels/train.json',
        label_file='labels/labels.json',
        data_root=str(root),
        data_prefix=dict(video='20bn-something-something-v2'),
        pipeline=pipeline,
        **kwargs,
    )


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(
        bad_videos, 'print_log', lambda msg, **kw: lines.append(msg)
    )
    return lines


@pytest.mark.parametrize('kind', list(KINDS))
def test_raise_names_the_file(bad_set, kind):
    root, ids = bad_set
    ds = _dataset(root, on_bad_video='raise')
    with pytest.raises(VideoReadError, match=KINDS[kind][1]) as err:
        ds[POSITION[kind]]
    path = root / '20bn-something-something-v2' / f'{ids[POSITION[kind]]}.webm'
    assert str(err.value).startswith(f'cannot read video {path}: ')
    assert '\n' not in str(err.value)


@pytest.mark.parametrize('kind', list(KINDS))
def test_skip_uses_the_next_sample_logs_once_and_counts(bad_set, kind, logged):
    root, ids = bad_set
    ds = _dataset(root, on_bad_video='skip')
    i = POSITION[kind]
    for _ in range(3):  # the same bad sample, three times
        out = ds[i]
        assert out['video_id'] == ids[i + 1]
        assert out['filename'].endswith(f'{ids[i + 1]}.webm')
    assert len(logged) == 1 and ids[i] in logged[0]
    assert KINDS[kind][1].split('|')[0] in logged[0] or kind == 'tiny'
    assert ds.pop_skip_count() == 3 and ds.pop_skip_count() == 0
    assert ds.bad_indices() == [i]
    assert ds[i + 1]['video_id'] == ids[i + 1]  # a good one: no skip
    assert ds.pop_skip_count() == 0


def test_policy_defaults(bad_set):
    root, _ = bad_set
    assert _dataset(root).on_bad_video == 'skip'  # training
    assert _dataset(root, test_mode=True).on_bad_video == 'raise'
    with pytest.raises(InputError, match='on_bad_video must be one of'):
        _dataset(root, on_bad_video='ignore')


def test_short_and_odd_videos_are_usable_by_default(bad_set):
    root, ids = bad_set
    ds = _dataset(root, min_frames=1)  # the default
    short = ds[POSITION['too_few_frames']]
    # 4 segments of a 3-frame video: centres 0.375, 1.125, 1.875, 2.625.
    assert short['frame_inds'].tolist() == [0, 1, 1, 2]
    means = [round(float(img.mean())) for img in short['imgs']]
    assert np.allclose(means, [100, 110, 110, 120], atol=2), means
    odd = ds[ODD_SIZE]
    assert odd['video_id'] == ids[ODD_SIZE]
    assert [img.shape for img in odd['imgs']] == [(25, 33, 3)] * 4
    assert ds.pop_skip_count() == 0


def test_skip_in_worker_processes_never_stops_or_hangs(bad_set):
    root, ids = bad_set
    from mmengine.dataset import pseudo_collate

    ds = _dataset(root, on_bad_video='skip')
    loader = torch.utils.data.DataLoader(
        ds, batch_size=2, num_workers=2, collate_fn=pseudo_collate, timeout=60
    )  # a hung decode fails the test instead of blocking it
    got = [v for batch in loader for v in batch['video_id']]
    bad = sorted(POSITION.values())
    expected = [ids[i + 1] if i in bad else ids[i] for i in range(len(ids))]
    assert got == expected
    # Counted across both workers (shared memory), each file marked once.
    assert ds.pop_skip_count() == len(KINDS)
    assert ds.bad_indices() == bad


def test_raise_in_a_worker_names_the_file(bad_set):
    root, ids = bad_set
    from mmengine.dataset import pseudo_collate

    ds = _dataset(root, on_bad_video='raise')
    loader = torch.utils.data.DataLoader(
        ds, batch_size=2, num_workers=1, collate_fn=pseudo_collate, timeout=60
    )
    batches = iter(loader)
    try:
        with pytest.raises(VideoReadError) as err:
            list(batches)
    finally:  # now, not whenever the traceback that holds it is collected
        batches._shutdown_workers()
    assert f'{ids[POSITION["missing"]]}.webm: file not found' in str(err.value)


def test_all_bad_fails_fast_with_a_hint(tmp_path, synthetic_ssv2):
    shutil.copytree(synthetic_ssv2 / 'labels', tmp_path / 'labels')
    (tmp_path / '20bn-something-something-v2').mkdir()  # no videos at all
    ds = _dataset(tmp_path, on_bad_video='skip')
    with pytest.raises(InputError, match='no usable video among the 16') as e:
        ds[0]
    assert 'file not found' in str(e.value)


def test_copies_of_the_dataset_do_not_share_marks(bad_set):
    import copy
    import pickle

    root, _ = bad_set
    ds = _dataset(root, on_bad_video='skip')
    ds[POSITION['empty']]
    twin, thawed = copy.deepcopy(ds), pickle.loads(pickle.dumps(ds))
    assert twin.bad_indices() == thawed.bad_indices() == [POSITION['empty']]
    twin[POSITION['missing']]
    assert ds.bad_indices() == [POSITION['empty']]  # only workers share
    assert twin.pop_skip_count() == 2 and ds.pop_skip_count() == 1


@pytest.mark.parametrize(
    'kind, rules',
    [
        ('too_few_frames', dict(min_frames=4)),
        ('odd_size', dict(min_frames=1, min_side=30)),  # 33x25: 25 < 30
    ],
)
def test_preflight_check_and_training_say_the_same(bad_set, kind, rules):
    root, ids = bad_set
    position = ODD_SIZE if kind == 'odd_size' else POSITION[kind]
    path = root / '20bn-something-something-v2' / f'{ids[position]}.webm'
    ds = _dataset(root, on_bad_video='raise', **rules)
    with pytest.raises(VideoReadError) as err:
        ds[position]
    # All frames (preflight) and the sampled ones (training): one message.
    assert bad_videos.check_video(str(path), **rules) == str(err.value)
    expected = {
        'too_few_frames': f'cannot read video {path}: 3 frames, fewer than '
        'min_frames=4',
        'odd_size': f'cannot read video {path}: frames are 33x25 px, '
        'smaller than min_side=30',
    }
    assert str(err.value) == expected[kind]


def test_frame_rules():
    assert bad_videos.frame_count_problem('v.webm', 4, 4) is None
    assert bad_videos.frame_size_problem('v.webm', [(8, 9)] * 3, 8) is None
    assert bad_videos.frame_size_problem('v.webm', [(8, 9), (9, 8)], 1) == (
        'cannot read video v.webm: the frame size changes within the video '
        '([(8, 9), (9, 8)])'
    )
