"""The synthetic SSv2-format generator: layout, determinism, class design."""

import json
import os
import subprocess
import sys

import av
import numpy as np
import pytest

from tests.helpers import REPO
from tsm_plugin.apis import make_synthetic
from tsm_plugin.datasets.transforms import segment_indices
from tsm_plugin.errors import ConfigValueError, ExitStatus, InputError
from tsm_plugin.testing import synthetic_ssv2 as synthetic
from tsm_plugin.testing.synthetic_ssv2 import (
    TEMPLATES,
    Motion,
    make_synthetic_ssv2,
)

TINY = dict(
    num_train_per_class=1,
    num_val_per_class=0,
    num_test_per_class=0,
    height=32,
    min_seconds=1,
    max_seconds=1.5,
    workers=1,
    progress=False,
)


def load(root, split):
    return json.loads((root / 'labels' / f'{split}.json').read_text())


def decode_all(root):
    out = {}
    for path in sorted((root / synthetic.VIDEO_DIR).glob('*.webm')):
        with av.open(str(path)) as c:
            out[path.name] = np.stack(
                [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
            )
    return out


def test_layout_and_annotations(synthetic_ssv2):
    labels = load(synthetic_ssv2, 'labels')
    assert labels == {
        name: str(i)
        for i, name in enumerate(
            sorted(t.replace('[', '').replace(']', '') for t in TEMPLATES)
        )
    }
    splits = {
        s: load(synthetic_ssv2, s) for s in ('train', 'validation', 'test')
    }
    ids = [it['id'] for items in splits.values() for it in items]
    assert len(ids) == len(set(ids)) == 32 and all(i.isdigit() for i in ids)
    videos = {p.stem for p in (synthetic_ssv2 / synthetic.VIDEO_DIR).iterdir()}
    assert videos == set(ids)
    assert all(set(it) == {'id'} for it in splits['test'])
    for split, per_class in (('train', 2), ('validation', 1)):
        templates = [it['template'] for it in splits[split]]
        assert sorted(templates) == sorted(list(TEMPLATES) * per_class)
        for it in splits[split]:
            assert set(it) == {'id', 'label', 'template', 'placeholders'}
            assert it['label'] == synthetic.fill_template(
                it['template'], it['placeholders']
            )
    it = next(
        i
        for i in splits['train']
        if i['template'] == '[Something] falling like a rock'
    )
    assert it['label'] == f'{it["placeholders"][0]} falling like a rock'


def test_same_seed_same_set_other_seed_other_set(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    make_synthetic_ssv2(str(a), seed=3, **TINY)
    make_synthetic_ssv2(str(b), seed=3, **TINY)
    make_synthetic_ssv2(str(c), seed=4, **TINY)
    for name in ('labels', 'train', 'validation', 'test'):
        assert load(a, name) == load(b, name)
    fa, fb = decode_all(a), decode_all(b)
    assert fa.keys() == fb.keys() and len(fa) == 8
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k])
    assert load(a, 'train') != load(c, 'train')


def test_existing_set_needs_overwrite(tmp_path):
    make_synthetic_ssv2(str(tmp_path), **TINY)
    with pytest.raises(InputError, match='already holds a set'):
        make_synthetic_ssv2(str(tmp_path), **TINY)
    out = make_synthetic_ssv2(str(tmp_path), overwrite=True, seed=1, **TINY)
    assert out['counts'] == dict(train=8, validation=0, test=0)
    assert len(os.listdir(out['video_dir'])) == 8


@pytest.mark.slow
def test_cli_runs_from_any_directory(tmp_path, capsys):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    out = tmp_path / 'set'
    cmd = [
        sys.executable,
        str(REPO / 'tools' / 'make_synthetic_ssv2.py'),
        '--out',
        str(out),
        '--num-train',
        '1',
        '--num-val',
        '1',
        '--num-test',
        '0',
        '--height',
        '32',
        '--fps',
        '8',
        '--max-seconds',
        '2',
        '--workers',
        '1',
    ]
    run = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert len(load(out, 'train')) == len(load(out, 'validation')) == 8
    with av.open(str(next((out / synthetic.VIDEO_DIR).iterdir()))) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.width, s.height) == ('vp9', 42, 32)
        assert s.average_rate == 8

    # the same CLI in-process (a second interpreter costs seconds): a user
    # error ends in one line, no traceback, exit status 2
    capsys.readouterr()
    assert make_synthetic.main(cmd[2:], layout='ssv2') == ExitStatus.INPUT == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {out} already holds a set')
    assert err.count('\n') == 1 and 'Traceback' not in err
    assert len(load(out, 'train')) == 8  # untouched


@pytest.mark.parametrize(
    'bad, word',
    [
        (dict(height=31), '31x42'),
        (dict(height=8), '8x10'),
        (dict(width=41), '32x41'),
        (dict(fps=0), 'fps'),
        (dict(min_seconds=2, max_seconds=1), '2, 1'),
        (dict(min_seconds=0), 'min_seconds'),
        (dict(num_train_per_class=-1), "'train': -1"),
        (dict(container='mkv'), "['avi', 'mp4', 'webm'], got 'mkv'"),
    ],
)
def test_bad_arguments_fail_as_one_line_input_errors(tmp_path, bad, word):
    args = dict(TINY, **bad)
    with pytest.raises(ConfigValueError) as err:
        make_synthetic_ssv2(str(tmp_path / 'set'), **args)
    assert word in str(err.value) and '\n' not in str(err.value)
    assert not (tmp_path / 'set').exists()  # checked before writing


def sampled_steps(kind, key, num_frames, trials=200):
    """Per video (2-4 s at 12 fps, as the default set): the motion between
    consecutive frames of TSN test sampling, and the wrapped positions."""
    steps, places = [], []
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        seconds = rng.uniform(2, 4)
        n = int(round(seconds * 12))
        tr = synthetic.track(kind, rng, n, seconds, 72, 96, 10.0)
        track = getattr(tr, key)[
            segment_indices(n, num_frames, test_mode=True)
        ]
        steps.append(np.abs(np.diff(track)))
        places.append(np.mod(track, tr.wrap.period) / tr.wrap.period)
    return np.array([s.mean() for s in steps]), steps, places


@pytest.mark.parametrize(
    'slow, fast, key',
    [(Motion.FEATHER, Motion.ROCK, 'y'), (Motion.ROLL, Motion.THROW, 'x')],
)
def test_speed_pairs_differ_in_speed_alone(slow, fast, key):
    # Built for TFD: at the 16 trained frames the two classes' steps never
    # overlap...
    slow16, slow_steps, slow_places = sampled_steps(slow, key, 16)
    fast16, fast_steps, fast_places = sampled_steps(fast, key, 16)
    assert slow16.max() < fast16.min()
    # ...and at 4 frames (4x the step) the slow class moves as the fast one
    # did at 16: a model that learnt speed calls it fast.
    slow4 = sampled_steps(slow, key, 4)[0]
    assert fast16.min() < np.median(slow4) < fast16.max()
    assert np.mean((slow4 > fast16.min()) & (slow4 < fast16.max())) > 0.9
    # Nothing else tells them apart: both move on every sampled frame (no
    # still frames to count)...
    assert min(s.min() for s in slow_steps + fast_steps) > 0
    # ...and the object is anywhere in its stream, in both classes.
    for places in (slow_places, fast_places):
        counts = np.histogram(np.concatenate(places), 4, (0, 1))[0]
        assert counts.min() > 0.8 * counts.mean()


def test_write_webm_writes_whole_files_only(tmp_path):
    frames = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(5)]
    path = tmp_path / 'ok.webm'
    assert synthetic.write_webm(str(path), iter(frames), 12, 24, 16) == 5
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
    assert len(decoded) == 5
    assert [int(round(d.mean() / 40)) for d in decoded] == [0, 1, 2, 3, 4]

    def broken():
        yield frames[0]
        raise RuntimeError('renderer failed')

    with pytest.raises(RuntimeError, match='renderer failed'):
        synthetic.write_webm(str(tmp_path / 'bad.webm'), broken(), 12, 24, 16)
    assert sorted(os.listdir(tmp_path)) == ['ok.webm']  # no part file
