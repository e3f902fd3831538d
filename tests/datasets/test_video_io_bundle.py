"""Frame bundles: the format round-trips, the reader gives the requested
frames, a prepared folder's ``<id>.webm`` opens its bundle, and a truncated
or foreign file fails in one line naming it."""

import json

import numpy as np
import pytest

from tests.helpers import first_video
from tsm_plugin.datasets import frame_bundle, video_io
from tsm_plugin.datasets.frame_bundle import BundleReader
from tsm_plugin.datasets.video_io import VideoReadError, open_video


def psnr(a, b):
    err = np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)
    return 10 * np.log10(255**2 / err)


@pytest.fixture(scope='module')
def webm_frames(synthetic_ssv2):
    path = first_video(synthetic_ssv2)
    with open_video(str(path), 'pyav') as reader:
        return reader.get_frames(range(reader.num_frames))


def test_pack_and_unpack_round_trip_with_an_exact_index():
    blobs = [b'\xff\xd8one', b'\xff\xd8three', b'\xff\xd8x']
    data = frame_bundle.pack(blobs)
    assert frame_bundle.unpack(data) == blobs
    head = 16 + 8 * 4  # magic + count + 4 offsets
    offsets = np.frombuffer(data[16:head], '<u8').tolist()
    assert offsets == [head, head + 5, head + 12, head + 15] and (
        offsets[-1] == len(data)
    )
    for bad, why in [
        (data[:-1], 'truncated: 62 of the 63 bytes'),
        (data + b'x', 'truncated: 64 of the 63 bytes'),
        (b'RIFF' + data[4:], 'not a frame bundle'),
        (data[:20], 'cannot hold the index of 3 frames'),
    ]:
        with pytest.raises(frame_bundle.BundleFormatError, match=why):
            frame_bundle.unpack(bad)


def test_reader_gives_the_requested_frames_near_the_source(
    webm_frames, tmp_path
):
    path = tmp_path / 'v.jpgbundle'
    path.write_bytes(frame_bundle.encode_frames(webm_frames, quality=90))
    n = len(webm_frames)
    with open_video(str(path), 'decord') as reader:  # backend: not used
        assert isinstance(reader, BundleReader) and reader.num_frames == n
        idx = [n - 1, 0, 5, 5, 3]
        frames = reader.get_frames(idx)
        again = reader.get_frames([2])
    for i, frame in zip(idx, frames):
        assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
        # JPEG at quality 90 of a 48x64 frame: within ~30 dB of the source
        assert psnr(frame, webm_frames[i]) > 30
    # the frame is the one asked for, not a neighbour
    assert psnr(frames[1], webm_frames[0]) > psnr(frames[1], webm_frames[9])
    np.testing.assert_array_equal(again[0], reader_frame(path, 2))
    assert not np.shares_memory(frames[2], frames[3])
    np.testing.assert_array_equal(frames[2], frames[3])
    with pytest.raises(IndexError, match='out of range'):
        BundleReader(str(path)).get_frames([n])


def reader_frame(path, i):
    data = frame_bundle.unpack(path.read_bytes())[i]
    return frame_bundle.decode_jpeg(data)


def test_a_prepared_folder_maps_webm_names_to_bundles(webm_frames, tmp_path):
    folder = tmp_path / 'videos'
    folder.mkdir()
    (folder / '7.jpgbundle').write_bytes(
        frame_bundle.encode_frames(webm_frames[:4])
    )
    webm = str(folder / '7.webm')
    # without the marker a missing .webm stays missing
    with pytest.raises(VideoReadError, match='7.webm: file not found'):
        open_video(webm, 'pyav')
    (folder / video_io.PREPARED_MARKER).write_text(
        json.dumps(dict(format='jpeg', suffix='.jpgbundle'))
    )
    video_io.prepared_suffix.cache_clear()
    with open_video(webm, 'pyav') as reader:
        assert reader.num_frames == 4
        assert reader.path.endswith('7.jpgbundle')
    with pytest.raises(VideoReadError, match='8.jpgbundle: file not found'):
        open_video(str(folder / '8.webm'))


def test_a_truncated_or_corrupt_bundle_fails_in_one_line(
    webm_frames, tmp_path
):
    data = frame_bundle.encode_frames(webm_frames[:3])
    cut = tmp_path / 'cut.jpgbundle'
    cut.write_bytes(data[:-10])
    with pytest.raises(VideoReadError) as err:
        open_video(str(cut))
    assert str(err.value) == (
        f'cannot read video {cut}: truncated: {len(data) - 10} of the '
        f'{len(data)} bytes the index gives (3 frames)'
    )
    # a damaged JPEG (same length) fails when its frame is decoded
    blobs = frame_bundle.unpack(data)
    bad = tmp_path / 'bad.jpgbundle'
    bad.write_bytes(frame_bundle.pack([blobs[0], b'\0' * len(blobs[1])]))
    reader = open_video(str(bad))
    assert reader.get_frames([0])[0].shape == (48, 64, 3)
    with pytest.raises(VideoReadError, match='frame 1: .*not a decodable'):
        reader.get_frames([1])
    reader.close()
    empty = tmp_path / 'empty.jpgbundle'
    empty.write_bytes(b'')
    with pytest.raises(VideoReadError, match='empty file'):
        open_video(str(empty))
