"""tools/preflight.py: passes on a good set, fails (exit 1) and names what is
wrong on a broken one."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import DEMO, one_thread_fixture, torch_threads
from tsm_plugin.apis import preflight
from tsm_plugin.apis.preflight import Row, Status, training
from tsm_plugin.apis.preflight.context import Context
from tsm_plugin.apis.preflight.training import check_checkpoint, check_step
from tsm_plugin.engine.checkpoint import (
    load_checkpoint_file,
    save_checkpoint_file,
)
from tsm_plugin.utils.config import get_num_frames, load_config

one_thread = one_thread_fixture()


def _table(out):
    rows = {}
    for line in out.splitlines():
        for status in (' PASS ', ' FAIL ', ' WARN ', ' SKIP '):
            if status in line:
                name, detail = line.split(status, 1)
                rows[name.strip()] = (status.strip(), detail.strip())
    return rows


@pytest.mark.slow
def test_preflight_passes_on_the_synthetic_set(
    synthetic_ssv2, tmp_path, capsys
):
    status = preflight.main(
        [
            DEMO,
            '--data-root',
            str(synthetic_ssv2),
            '--workers',
            '2',
            '--work-dir',
            str(tmp_path),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, out
    rows = _table(out)
    assert rows['paths'][0] == 'PASS'
    assert rows['annotations (train_dataloader)'] == (
        'PASS',
        'train.json: 16 items, 8 of 8 classes used',
    )
    assert rows['annotations (val_dataloader)'] == (
        'PASS',
        'validation.json: 8 items, 8 of 8 classes used',
    )
    assert rows['videos'][0] == 'PASS'
    assert rows['videos'][1].startswith('24 videos decode completely')
    assert '24/24' in err  # the progress bar
    assert rows['pretrained weights'][0] == 'SKIP'
    assert rows['forward+backward (cpu)'][0] == 'PASS'
    demo = load_config(DEMO)  # the batch is the demo's training input
    frames = next(
        t['num_clips']
        for t in demo.train_dataloader.dataset.pipeline
        if t['type'] == 'SegmentSampleFrames'
    )
    assert frames == get_num_frames(demo)
    width, height = demo.size
    assert (
        f'input 2x{frames}x3x{height}x{width}'
        in rows['forward+backward (cpu)'][1]
    )
    assert rows['checkpoint save/reload'][0] == 'PASS'
    assert out.rstrip().endswith('preflight: passed (0 failed, 0 warnings)')
    assert (tmp_path / 'preflight_bad_videos.txt').read_text() == ''
    assert not list(tmp_path.glob('*.pth'))  # its checkpoint is cleaned up


@pytest.fixture
def broken_set(synthetic_ssv2, tmp_path):
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2, root)
    videos = root / '20bn-something-something-v2'
    train = json.loads((root / 'labels' / 'train.json').read_text())
    val = json.loads((root / 'labels' / 'validation.json').read_text())
    bad_train = videos / f'{train[4]["id"]}.webm'
    bad_val = videos / f'{val[2]["id"]}.webm'
    bad_train.write_bytes(bad_train.read_bytes()[:300])  # cut off
    bad_val.write_text('not a video')
    return root, bad_train, bad_val


@pytest.mark.slow
def test_preflight_fails_and_lists_bad_videos(broken_set, tmp_path, capsys):
    root, bad_train, bad_val = broken_set
    bad_list = tmp_path / 'bad.txt'
    status = preflight.main(
        [
            DEMO,
            '--data-root',
            str(root),
            '--workers',
            '2',
            '--work-dir',
            str(tmp_path / 'work'),
            '--bad-list',
            str(bad_list),
            # the model is configured for more classes than labels.json holds
            '--cfg-options',
            'model.cls_head.num_classes=12',
        ]
    )
    out, _ = capsys.readouterr()
    assert status == 1, out
    rows = _table(out)
    assert rows['annotations (train_dataloader)'] == (
        'FAIL',
        'train.json: label file has 8 classes, '
        'model.cls_head.num_classes = 12',
    )
    status_, detail = rows['videos']
    assert status_ == 'FAIL'  # the val split raises on bad videos
    assert detail.startswith(f'2 of 24 unusable -> {bad_list}')
    assert "(1 in a split with on_bad_video='raise')" in detail
    listed = dict(
        line.split('\t') for line in bad_list.read_text().splitlines()
    )
    assert set(listed) == {str(bad_train), str(bad_val)}
    assert 'not a readable video' in listed[str(bad_val)]
    # The rest still ran: one run shows every problem at once.
    assert rows['forward+backward (cpu)'][0] == 'PASS'
    assert rows['annotations (val_dataloader)'][0] == 'FAIL'
    assert out.rstrip().endswith('preflight: FAILED (3 failed, 0 warnings)')


@pytest.mark.slow
def test_preflight_cli_names_missing_paths(synthetic_ssv2, tmp_path, capsys):
    root = tmp_path / 'ssv2'
    shutil.copytree(synthetic_ssv2 / 'labels', root / 'labels')
    (root / 'labels' / 'validation.json').unlink()
    capsys.readouterr()
    with torch_threads(1):
        status = preflight.main(
            [
                DEMO,
                '--data-root',
                str(root),
                '--workers',
                '1',
                '--work-dir',
                str(tmp_path / 'work'),
            ]
        )
    out = capsys.readouterr()
    assert status == 1, out.err[-2000:]
    rows = _table(out.out)
    videos = root / '20bn-something-something-v2'
    assert rows['paths'] == (
        'FAIL',
        (
            f'missing: data_prefix.video {videos}; '
            f'ann_file {root / "labels" / "validation.json"}'
        ),
    )
    assert rows['annotations (train_dataloader)'] == (
        'FAIL',
        f'videos folder not found: {videos} (data_prefix.video for '
        f'{root / "labels" / "train.json"})',
    )


def _context(root, work_dir, *options):
    args = preflight.build_parser().parse_args(
        [
            DEMO,
            '--data-root',
            str(root),
            '--work-dir',
            str(work_dir),
            '--device',
            'cpu',
            *(['--cfg-options', *options] if options else []),
        ]
    )
    return Context.from_args(args)


def _step(root, work_dir, precision):
    """The CPU training step check in ``precision``: (context, its rows,
    conv1's input and output dtypes)."""
    ctx = _context(root, work_dir, f'optim_wrapper.precision={precision}')
    seen = []
    hook = ctx.model.backbone.conv1.register_forward_hook(
        lambda module, inputs, output: seen.append(
            (inputs[0].dtype, output.dtype)
        )
    )
    rows = preflight.run_check(
        'forward+backward (cpu)', check_step, ctx, 'cpu'
    )
    hook.remove()
    return ctx, rows, seen


@pytest.fixture(scope='module')
def fp32_step(synthetic_ssv2, tmp_path_factory):
    """The demo's (fp32) step, once: the checkpoint checks start from its
    trained context."""
    with torch_threads(1):
        return _step(
            synthetic_ssv2, tmp_path_factory.mktemp('preflight'), 'fp32'
        )


@pytest.mark.slow
@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_step_runs_inside_the_optim_context(
    request, synthetic_ssv2, tmp_path, precision
):
    if precision == 'fp32':
        ctx, rows, seen = request.getfixturevalue('fp32_step')
    else:
        ctx, rows, seen = _step(synthetic_ssv2, tmp_path, precision)
    assert [r.status for r in rows] == [Status.PASS], rows
    assert f', {precision}, ' in rows[0].detail
    dtype = {'fp32': torch.float32, 'bf16': torch.bfloat16}[precision]
    # The preprocessed frames are fp32; the convolution computes in the
    # recipe's precision, as AutocastOptimWrapper's autocast makes it.
    assert seen == [(torch.float32, dtype)]
    assert set(ctx.trained) == {'cpu'}


def _trained(fp32_step):
    ctx, rows, _ = fp32_step
    assert rows[0].status is Status.PASS
    return ctx


@pytest.mark.slow
def test_checkpoint_goes_through_the_atomic_writer(fp32_step, monkeypatch):
    ctx = _trained(fp32_step)
    written = []

    def spy(ckpt, path):
        written.append(path)
        save_checkpoint_file(ckpt, path)

    monkeypatch.setattr(training, 'save_checkpoint_file', spy)
    rows = preflight.run_check('checkpoint', check_checkpoint, ctx)
    assert rows[0].status is Status.PASS, rows
    assert len(written) == 1 and not list(Path(ctx.work_dir).glob('*.pth'))

    def refuse(ckpt, path):
        raise OSError(f'disk full: {path}')

    monkeypatch.setattr(training, 'save_checkpoint_file', refuse)
    rows = preflight.run_check('checkpoint save/reload', check_checkpoint, ctx)
    assert rows == [
        Row('checkpoint save/reload', Status.FAIL, f'disk full: {written[0]}')
    ]


@pytest.mark.slow
def test_checkpoint_check_sees_a_changed_value(fp32_step, monkeypatch):
    ctx = _trained(fp32_step)

    def load_and_change(path, map_location=None):
        ckpt = load_checkpoint_file(path, map_location)
        ckpt['state_dict']['cls_head.fc_cls.bias'][0] += 1e-6
        ckpt['message_hub']['log_scalars']['train/loss'].update(0.0)
        return ckpt

    monkeypatch.setattr(training, 'load_checkpoint_file', load_and_change)
    rows = preflight.run_check('checkpoint', check_checkpoint, ctx)
    assert rows == [
        Row(
            'checkpoint save/reload',
            Status.FAIL,
            (
                "differs: ['checkpoint.state_dict.cls_head.fc_cls.bias', "
                "'checkpoint.message_hub.log_scalars.train/loss."
                "_log_history', "
                "'checkpoint.message_hub.log_scalars.train/loss._count_history']"
            ),
        )
    ]


def test_checks_without_a_prerequisite_skip(synthetic_ssv2, tmp_path):
    ctx = _context(synthetic_ssv2, tmp_path)
    assert preflight.run_check(
        'checkpoint save/reload', check_checkpoint, ctx
    ) == [Row('checkpoint save/reload', Status.SKIP, 'no CPU training step')]


def test_a_bad_device_is_an_input_error(synthetic_ssv2, tmp_path, capsys):
    status = preflight.main(
        [
            DEMO,
            '--data-root',
            str(synthetic_ssv2),
            '--work-dir',
            str(tmp_path),
            '--device',
            'tpu',
        ]
    )
    assert status == 2
    assert capsys.readouterr().err == (
        "error: --device tpu: expected 'auto', 'cpu', 'cuda', 'cuda:N' or "
        "'mps'\n"
    )


def test_missing_k400_videos_are_listed_as_a_warning(tmp_path):
    """Kinetics-400 listed without a file: a WARN row and
    <work_dir>/preflight_missing_videos.txt; the broken one a WARN too
    (training skips it)."""
    from tests.helpers import REPO
    from tsm_plugin.apis.preflight.data import check_videos
    from tsm_plugin.testing.synthetic_videos import make_synthetic_k400

    info = make_synthetic_k400(
        str(tmp_path / 'k400'),
        num_train_per_class=1,
        num_val_per_class=1,
        missing=2,
        broken=1,
        height=32,
        min_seconds=0.5,
        max_seconds=0.6,
        progress=False,
    )
    work = tmp_path / 'work'
    args = preflight.build_parser().parse_args(
        [
            str(REPO / 'configs' / 'tsm_r50_16f_k400.py'),
            '--data-root',
            info['root'],
            '--work-dir',
            str(work),
            '--workers',
            '1',
        ]
    )
    rows = preflight.run_check('videos', check_videos, Context.from_args(args))
    listed = work / 'preflight_missing_videos.txt'
    assert [(r.check, r.status) for r in rows] == [
        ('missing videos', Status.WARN),
        ('videos', Status.WARN),
    ]
    assert rows[0].detail.startswith(
        f'2 listed videos have no file, left out -> {listed}; first: '
    )
    assert rows[1].detail.startswith(f'1 of 14 unusable -> {work}')
    ann = f'{info["root"]}/annotations/train.csv'
    assert listed.read_text().splitlines() == [
        f'{name}\t{info["root"]}/train/{name}.mp4\t{ann}'
        for name in sorted(info['missing'])
    ]
