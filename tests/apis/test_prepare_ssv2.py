"""tools/prepare_ssv2.py: converts the synthetic set, resumes after a kill,
lists failures, and the dataset reads the prepared copy as the .webm."""

import os
import shutil

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tsm_plugin.apis import prepare_ssv2
from tsm_plugin.datasets import frame_bundle, video_io

VIDEOS = prepare_ssv2.VIDEO_DIR


def ids_of(root):
    return sorted(p[:-5] for p in os.listdir(root / VIDEOS) if '.webm' in p)


@pytest.fixture(scope='module')
def prepared(synthetic_ssv2, tmp_path_factory):
    """The session set prepared once (one process): (dst, summary)."""
    dst = tmp_path_factory.mktemp('prepared')
    summary = prepare_ssv2.prepare(
        str(synthetic_ssv2), str(dst), workers=1, progress=False
    )
    return dst, summary


def test_every_video_becomes_one_bundle_with_its_frame_count(
    synthetic_ssv2, prepared
):
    dst, s = prepared
    ids = ids_of(synthetic_ssv2)
    assert (s['videos'], s['converted'], s['skipped'], s['failed']) == (
        len(ids),
        len(ids),
        0,
        0,
    )
    assert sorted(os.listdir(dst / VIDEOS)) == sorted(
        [f'{v}.jpgbundle' for v in ids] + ['prepared.json']
    )
    for name in os.listdir(synthetic_ssv2 / 'labels'):
        assert (dst / 'labels' / name).read_bytes() == (
            synthetic_ssv2 / 'labels' / name
        ).read_bytes()
    for vid in ids[:4]:
        with (
            video_io.open_video(
                str(synthetic_ssv2 / VIDEOS / f'{vid}.webm'), 'pyav'
            ) as a,
            frame_bundle.BundleReader(
                str(dst / VIDEOS / f'{vid}.jpgbundle')
            ) as b,
        ):
            assert a.num_frames == b.num_frames >= 18
    webm = sum(
        os.path.getsize(synthetic_ssv2 / VIDEOS / f'{v}.webm') for v in ids
    )
    jpg = sum(os.path.getsize(dst / VIDEOS / f'{v}.jpgbundle') for v in ids)
    assert (s['webm_bytes'], s['prepared_bytes']) == (webm, jpg)
    assert s['storage_ratio'] == round(jpg / webm, 3)
    assert not (dst / 'failures.txt').exists()


def test_the_dataset_reads_the_prepared_set_as_the_webm(
    synthetic_ssv2, prepared
):
    """Same annotation files, only data_root changed: the same frame
    indices, and the frames within JPEG loss of the .webm's."""
    init_default_scope('mmaction')
    pipeline = [
        dict(type='VideoInit', backend='pyav'),
        dict(type='SegmentSampleFrames', num_clips=16),
        dict(type='VideoDecode'),
    ]

    def dataset(root):
        return DATASETS.build(
            dict(
                type='SSv2Dataset',
                data_root=str(root),
                ann_file='labels/train.json',
                label_file='labels/labels.json',
                data_prefix=dict(video=VIDEOS),
                pipeline=pipeline,
            )
        )

    webm, jpeg = dataset(synthetic_ssv2), dataset(prepared[0])
    for i in (0, 5, 11):
        np.random.seed(i)
        a = webm[i]
        np.random.seed(i)
        b = jpeg[i]
        assert b['filename'] == a['filename'].replace(
            str(synthetic_ssv2), str(prepared[0])
        )
        assert a['total_frames'] == b['total_frames']
        np.testing.assert_array_equal(a['frame_inds'], b['frame_inds'])
        x, y = np.stack(a['imgs']).astype(float), np.stack(b['imgs'])
        mse = np.mean((x - y) ** 2)
        assert 10 * np.log10(255**2 / mse) > 30  # JPEG q90 loss bound
        assert a['label'] == b['label']


def test_a_rerun_skips_complete_outputs_and_redoes_partial_ones(
    synthetic_ssv2, prepared, tmp_path
):
    dst = tmp_path / 'dst'
    shutil.copytree(prepared[0], dst)
    ids = ids_of(synthetic_ssv2)
    kept = dst / VIDEOS / f'{ids[0]}.jpgbundle'
    stamp = os.stat(kept).st_mtime + 3600  # complete and newer than its .webm
    os.utime(kept, (stamp, stamp))
    # A killed run: a temporary left behind, a file cut short under its
    # final name (copied by a tool that is not atomic), one never started.
    tmp = dst / VIDEOS / f'.{ids[1]}.jpgbundle.1234abcd.tmp'
    tmp.write_bytes(b'partial')
    cut = dst / VIDEOS / f'{ids[1]}.jpgbundle'
    cut.write_bytes(cut.read_bytes()[:-100])
    (dst / VIDEOS / f'{ids[2]}.jpgbundle').unlink()
    s = prepare_ssv2.prepare(
        str(synthetic_ssv2), str(dst), workers=1, progress=False
    )
    assert (s['converted'], s['skipped'], s['failed']) == (2, len(ids) - 2, 0)
    assert os.stat(kept).st_mtime == stamp  # not rewritten
    assert not tmp.exists()
    for vid in ids[1:3]:
        assert (dst / VIDEOS / f'{vid}.jpgbundle').read_bytes() == (
            prepared[0] / VIDEOS / f'{vid}.jpgbundle'
        ).read_bytes()
    # another format or quality in the same DST is refused
    with pytest.raises(prepare_ssv2.InputError, match='quality 90, not jpeg'):
        prepare_ssv2.prepare(
            str(synthetic_ssv2), str(dst), quality=80, progress=False
        )


def test_failures_are_listed_and_summarised(
    synthetic_ssv2, tmp_path, monkeypatch, capsys
):
    src = tmp_path / 'src'
    shutil.copytree(synthetic_ssv2 / 'labels', src / 'labels')
    ids = ids_of(synthetic_ssv2)[:3]
    (src / VIDEOS).mkdir()
    for vid in ids:
        shutil.copy(synthetic_ssv2 / VIDEOS / f'{vid}.webm', src / VIDEOS)
    webm = src / VIDEOS / f'{ids[0]}.webm'
    webm.write_bytes(webm.read_bytes()[:-600])  # a download cut short
    # an output that loses a frame fails the frame-count check: the first
    # one encoded (ids[0] fails before, at decoding)
    real, calls = frame_bundle.encode_frames, []

    def lossy(frames, quality):
        calls.append(1)
        return real(list(frames)[: -1 if len(calls) == 1 else None], quality)

    monkeypatch.setattr(frame_bundle, 'encode_frames', lossy)
    dst = tmp_path / 'dst'
    status = prepare_ssv2.main(
        [str(src), str(dst), '--workers', '1', '--no-progress']
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 2
    lines = (dst / 'failures.txt').read_text().splitlines()
    n = video_io.open_video(str(src / VIDEOS / f'{ids[1]}.webm')).num_frames
    assert lines == [
        f'{ids[0]}.webm\tcannot read video {webm}: truncated: the frames '
        + lines[0].split(': truncated: the frames ', 1)[1],
        f'{ids[1]}.webm\tframe count mismatch: the source has {n} frames, '
        f'the output {n - 1}',
    ]
    assert not (dst / VIDEOS / f'{ids[1]}.jpgbundle').exists()
    assert (dst / VIDEOS / f'{ids[2]}.jpgbundle').exists()
    assert len(out) == 1 and out[0].startswith(
        f'prepared 1/3 videos in {dst} as jpeg (1 converted, 0 already '
        f'done, 2 failed: listed in {dst / "failures.txt"}); '
    )
    # fixed and rerun: only the two failed videos are converted, the list
    # goes away
    monkeypatch.setattr(frame_bundle, 'encode_frames', real)
    shutil.copy(synthetic_ssv2 / VIDEOS / f'{ids[0]}.webm', src / VIDEOS)
    s = prepare_ssv2.prepare(str(src), str(dst), workers=1, progress=False)
    assert (s['converted'], s['skipped'], s['failed']) == (2, 1, 0)
    assert not (dst / 'failures.txt').exists()


def test_user_errors_are_one_line(synthetic_ssv2, tmp_path, capsys):
    assert prepare_ssv2.main([str(tmp_path), str(tmp_path / 'o')]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {tmp_path}: no labels/labels.json (not an SSv2-format set)'
    )
    argv = [str(synthetic_ssv2), str(tmp_path / 'o'), '--format', 'webp']
    assert prepare_ssv2.main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown format 'webp'; use default or one of jpeg"
    )
