"""tools/prepare_data.py: a tree as downloaded (SSv2 .webm, Kinetics .mp4 in
class folders, HMDB51 .avi, SSv1 frame folders, annotations) prepared as a
mirror of frame bundles that the readers open under the original names."""

import contextlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tsm_plugin.apis import prepare_data
from tsm_plugin.datasets import frame_bundle, video_io
from tsm_plugin.errors import InputError
from tsm_plugin.testing.synthetic_ssv2 import write_video

H, W, N = 32, 48, 8
VIDEOS = {  # source path -> container
    'ssv2/20bn-something-something-v2/7.webm': 'webm',
    'kinetics400/train/abseiling/abc_000010_000020.mp4': 'mp4',
    'kinetics400/val/zz.mp4': 'mp4',
    'hmdb51/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi': 'avi',
}
SSV1 = 'ssv1/20bn-something-something-v1'
ANNOTATIONS = [
    'ssv1/something-something-v1-labels.csv',
    'kinetics400/annotations/train.csv',
    'hmdb51/splits/brush_hair_test_split1.txt',
]


def frames(seed: int, n: int = N) -> list:
    """Smooth moving gradients plus noise: JPEG-friendly real content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    out = []
    for t in range(n):
        base = np.stack([x * 4 + t * 9, y * 6 + seed * 20, (x + y) * 3], -1)
        noise = rng.integers(0, 12, (H, W, 3))
        out.append(((base + noise) % 256).astype(np.uint8))
    return out


def write_tree(src: Path) -> None:
    for i, (rel, container) in enumerate(VIDEOS.items()):
        write_video(str(src / rel), frames(i), 12, W, H, container)
    # SSv1 frame folders: %05d.jpg, img_ frames numbered past 9 without
    # padding (numeric order differs from the names' order), and a gap.
    names = {
        '1': [f'{k:05d}.jpg' for k in range(1, N + 1)],
        '2': [f'img_{k}.jpg' for k in range(1, 12)],
        '3': ['00001.jpg', '00002.jpg', '00004.jpg'],
    }
    for vid, files in names.items():
        (src / SSV1 / vid).mkdir(parents=True)
        for name, img in zip(files, frames(10 + int(vid), len(files))):
            jpeg = frame_bundle.encode_jpeg(img, 80 + int(vid))
            (src / SSV1 / vid / name).write_bytes(jpeg)
    (src / SSV1 / '1' / '.DS_Store').write_bytes(b'\0')  # hidden: ignored
    for i, rel in enumerate(ANNOTATIONS):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(f'annotation {i}\n')
    # frames beside another file: not a frame folder, mirrored as files
    (src / 'misc').mkdir()
    (src / 'misc' / '00001.jpg').write_bytes(b'not decoded')
    (src / 'misc' / 'notes.txt').write_text('x')
    # a download cut short, and two videos with one output
    cut = src / 'kinetics400/train/abseiling/cut.mp4'
    data = (src / 'kinetics400/val/zz.mp4').read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    (src / 'clash').mkdir()
    for name in ('a.mp4', 'a.avi'):
        (src / 'clash' / name).write_bytes(data)


def bundle(rel: str) -> str:
    return str(Path(rel).with_suffix('')) + '.jpgbundle'


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """(src, dst, exit status, printed lines) of one run of the CLI."""
    root = tmp_path_factory.mktemp('prepare_data')
    src, dst = root / 'src', root / 'dst'
    write_tree(src)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = prepare_data.main(
            [str(src), str(dst), '--workers', '1', '--no-progress']
        )
    # what the tool prints, without the log (on stdout where the logger
    # was made in this block)
    lines = out.getvalue().splitlines()
    return src, dst, status, [x for x in lines if ' - mmengine - ' not in x]


def tree(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob('*') if p.is_file()}


def test_the_prepared_tree_mirrors_the_source(prepared):
    src, dst, status, out = prepared
    ok = [bundle(r) for r in VIDEOS] + [
        f'{SSV1}/1.jpgbundle',
        f'{SSV1}/2.jpgbundle',
    ]
    # every folder meant to receive bundles is marked, failed ones' too
    markers = {str(Path(r).parent / 'prepared.json') for r in ok}
    markers.add('clash/prepared.json')
    copied = ANNOTATIONS + ['misc/00001.jpg', 'misc/notes.txt']
    assert tree(dst) == set(ok) | markers | set(copied) | {'failures.txt'}
    for rel in copied:
        assert (dst / rel).read_bytes() == (src / rel).read_bytes()
    failures = dict(
        line.split('\t')
        for line in (dst / 'failures.txt').read_text().splitlines()
    )
    assert sorted(failures) == [
        'clash/a.avi',
        'clash/a.mp4',
        'kinetics400/train/abseiling/cut.mp4',
        f'{SSV1}/3',
    ]
    assert failures['clash/a.avi'] == 'the same output as clash/a.mp4'
    cut = 'kinetics400/train/abseiling/cut.mp4'
    assert failures[cut].startswith(f'cannot read video {src / cut}: ')
    assert failures[f'{SSV1}/3'] == (
        '3 frames numbered 1..4, expected 1..3 without gaps or repeats'
    )
    assert status == 2 and len(out) == 1
    assert out[0].startswith(
        f'prepared 6/10 videos in {dst} as jpeg (6 converted, 0 already '
        f'done, 4 failed: listed in {dst / "failures.txt"}); '
    )
    assert out[0].endswith('x the sources')


def test_frame_folders_keep_their_jpeg_bytes_under_their_own_name(prepared):
    src, dst, _, _ = prepared
    for vid, names in (
        ('1', [f'{k:05d}.jpg' for k in range(1, N + 1)]),
        ('2', [f'img_{k}.jpg' for k in range(1, 12)]),
    ):
        jpegs = [(src / SSV1 / vid / n).read_bytes() for n in names]
        packed = (dst / SSV1 / f'{vid}.jpgbundle').read_bytes()
        assert frame_bundle.unpack(packed) == jpegs  # byte for byte, in order
        # the original folder's path under DST opens the bundle
        with video_io.open_video(str(dst / SSV1 / vid)) as reader:
            assert isinstance(reader, frame_bundle.BundleReader)
            got = reader.get_frames(range(reader.num_frames))
        want = [frame_bundle.decode_jpeg(j) for j in jpegs]
        np.testing.assert_array_equal(np.stack(got), np.stack(want))


def test_videos_read_under_their_own_name_within_jpeg_loss(prepared):
    src, dst, _, _ = prepared
    for rel in VIDEOS:
        assert not (dst / rel).exists()
        with (
            video_io.open_video(str(src / rel), 'pyav') as a,
            video_io.open_video(str(dst / rel), 'pyav') as b,
        ):
            assert isinstance(b, frame_bundle.BundleReader)
            assert a.num_frames == b.num_frames == N
            x = np.stack(a.get_frames(range(N))).astype(float)
            y = np.stack(b.get_frames(range(N)))
        psnr = 10 * np.log10(255**2 / np.mean((x - y) ** 2))
        assert psnr > 30, (rel, psnr)  # JPEG q90 loss bound


def test_a_rerun_skips_complete_outputs_and_redoes_the_rest(
    prepared, tmp_path
):
    src, dst0, _, _ = prepared
    dst = tmp_path / 'dst'
    shutil.copytree(dst0, dst)
    kept = dst / bundle(list(VIDEOS)[1])
    future = os.stat(src / list(VIDEOS)[1]).st_mtime + 3600
    os.utime(kept, (future, future))  # complete, newer than its source
    stale = dst / bundle(list(VIDEOS)[2])  # older than its source: redone
    os.utime(stale, (1, 1))
    cut = dst / SSV1 / '1.jpgbundle'
    cut.write_bytes(cut.read_bytes()[:-10])  # partial: redone
    tmp = dst / SSV1 / '.2.jpgbundle.1234abcd.tmp'  # what a kill left
    tmp.write_bytes(b'partial')
    (dst / ANNOTATIONS[0]).unlink()
    s = prepare_data.prepare(str(src), str(dst), progress=False)
    assert (s['videos'], s['frame_folders'], s['copied']) == (10, 3, 1)
    # the 4 failures are retried (and fail again), 1 partial and 1 stale
    # output redone
    assert (s['converted'], s['skipped'], s['failed']) == (2, 4, 4)
    assert os.stat(kept).st_mtime == future and not tmp.exists()
    assert os.stat(stale).st_mtime > 1
    assert cut.read_bytes() == (dst0 / SSV1 / '1.jpgbundle').read_bytes()
    assert (dst / ANNOTATIONS[0]).exists()
    assert s['prepared_bytes'] == sum(
        os.path.getsize(dst / p) for p in tree(dst) if p.endswith('bundle')
    )
    # another quality in the same DST is refused
    with pytest.raises(InputError, match='quality 90, not jpeg quality 70'):
        prepare_data.prepare(str(src), str(dst), quality=70, progress=False)


def test_user_errors_are_one_line(prepared, tmp_path, capsys):
    src, dst, _, _ = prepared
    (tmp_path / 'empty' / 'a').mkdir(parents=True)
    (tmp_path / 'empty' / 'a' / 'list.txt').write_text('x')
    cases = [
        (tmp_path / 'nowhere', tmp_path / 'o', 'not a folder'),
        (src, src / 'prepared', 'must not be SRC or inside it'),
        (tmp_path / 'empty', tmp_path / 'o', 'no videos (.webm .mp4 '),
        (dst, tmp_path / 'o', 'SRC holds a prepared set already'),
    ]
    for a, b, message in cases:
        assert prepare_data.main([str(a), str(b), '--no-progress']) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith('error: ') and '\n' not in err
        assert message in err
    assert not (tmp_path / 'o').exists()
