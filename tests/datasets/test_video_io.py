"""Video readers: decord and PyAV agree; user faults raise VideoReadError."""

import json
import shutil

import av
import numpy as np
import pytest

from tsm_plugin.datasets import video_io
from tsm_plugin.datasets.video_io import (
    VideoReadError,
    open_video,
    resolve_backend,
)
from tsm_plugin.errors import InputError

BACKENDS = ['pyav'] + (['decord'] if video_io.decord_available() else [])


def first_video(root, split='train'):
    items = json.loads((root / 'labels' / f'{split}.json').read_text())
    return root / '20bn-something-something-v2' / f'{items[0]["id"]}.webm'


def all_frames_pyav(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]


@pytest.mark.parametrize('backend', BACKENDS)
def test_reader_counts_and_returns_requested_frames(synthetic_ssv2, backend):
    path = first_video(synthetic_ssv2)
    ref = all_frames_pyav(path)
    with open_video(str(path), backend) as reader:
        assert reader.num_frames == len(ref) >= 18  # 1.5 s at 12 fps
        idx = [len(ref) - 1, 0, 5, 5, 3]  # any order, repeats
        frames = reader.get_frames(idx)
        again = reader.get_frames([2, 1])  # a reader can be asked twice
    np.testing.assert_array_equal(np.stack(again), np.stack(ref[2:0:-1]))
    assert len(frames) == len(idx)
    for i, frame in zip(idx, frames):
        assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
        np.testing.assert_array_equal(frame, ref[i])
    # a repeated index is a separate array (in-place transforms are safe)
    assert not np.shares_memory(frames[2], frames[3])
    with pytest.raises(IndexError, match='out of range'):
        open_video(str(path), backend).get_frames([len(ref)])


@pytest.mark.skipif(not video_io.decord_available(), reason='no decord')
def test_decord_and_pyav_give_identical_frames(synthetic_ssv2):
    # Both run FFmpeg's VP9 decoder and the same YUV->RGB conversion: the
    # frames are bit-identical, at the same indices (no offset).
    for split in ('train', 'validation'):
        path = str(first_video(synthetic_ssv2, split))
        a, b = open_video(path, 'pyav'), open_video(path, 'decord')
        assert a.num_frames == b.num_frames
        idx = list(range(a.num_frames))
        for fa, fb in zip(a.get_frames(idx), b.get_frames(idx)):
            np.testing.assert_array_equal(fa, fb)


def test_auto_prefers_decord_and_rejects_unknown_names():
    assert resolve_backend('auto') == (
        'decord' if video_io.decord_available() else 'pyav'
    )
    assert resolve_backend('pyav') == 'pyav'
    with pytest.raises(ValueError, match="unknown video backend 'opencv'"):
        resolve_backend('opencv')


def test_auto_choice_is_logged_once_where_the_pipeline_is_built(
    synthetic_ssv2, monkeypatch
):
    from tsm_plugin.datasets.transforms import VideoInit

    logged = []
    monkeypatch.setattr(video_io, '_logged', set())
    monkeypatch.setattr(
        video_io, 'print_log', lambda msg, **kw: logged.append(msg)
    )
    init = VideoInit()  # resolves 'auto' here, in the main process
    name = init._backend
    assert logged == [
        f"video decoding backend: {name} ('auto': decord if "
        'installed, else pyav)'
    ]
    init(dict(filename=str(first_video(synthetic_ssv2))))  # as a worker
    VideoInit()
    resolve_backend('pyav')
    assert len(logged) == 1


def zero_frame_webm(path):
    with av.open(str(path), 'w', format='webm') as out:
        s = out.add_stream('libvpx-vp9', rate=12)
        s.width = s.height = 32
        s.pix_fmt = 'yuv420p'
        out.start_encoding()


def cut_after(path, n):
    """The file's bytes up to the end of its n-th frame (a cut download)."""
    with av.open(str(path)) as c:
        packets = [p for p in c.demux(video=0) if p.size]
    return path.read_bytes()[: packets[n].pos]  # inside frame n + 1


BAD = {
    'missing': (None, 'file not found'),
    'empty': (lambda p, good: p.write_bytes(b''), r'empty file \(0 bytes\)'),
    'text': (
        lambda p, good: p.write_text('not a video'),
        'not a readable video',
    ),
    'truncated': (
        lambda p, good: p.write_bytes(cut_after(good, 8)),
        r'truncated: the frames end at 0\.67 s of the 1\.\d+ s '
        r'the header gives \(8 frames\)',
    ),
    'header_only': (
        lambda p, good: p.write_bytes(good.read_bytes()[:200]),
        'not a readable video',
    ),
    'zero_frames': (
        lambda p, good: zero_frame_webm(p),
        'not a readable video',
    ),
}


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('case', list(BAD))
def test_user_faults_raise_one_line_naming_the_file(
    synthetic_ssv2, tmp_path, backend, case
):
    make, reason = BAD[case]
    path = tmp_path / f'{case}.webm'
    if make:
        make(path, first_video(synthetic_ssv2))
    with pytest.raises(VideoReadError, match=reason) as err:
        open_video(str(path), backend)
    msg = str(err.value)
    assert msg.startswith(f'cannot read video {path}: ') and '\n' not in msg
    # the CLI prints InputError lines; DataLoader workers re-raise OSErrors
    assert isinstance(err.value, InputError)
    assert isinstance(err.value, OSError)


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_complete_copy_is_not_flagged(synthetic_ssv2, tmp_path, backend):
    path = tmp_path / 'copy.webm'
    shutil.copy(first_video(synthetic_ssv2), path)
    assert open_video(str(path), backend).num_frames >= 18
