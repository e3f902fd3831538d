"""TFD outputs from known numbers: the Markdown table, the JSON, the plot."""

import json
import math
import struct
from pathlib import Path

import torch

from tsm_plugin.evaluation import markdown_table, write_report


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR'
    return struct.unpack('>II', data[16:24])


FFN = dict(
    trained_frames=16,
    decode_once=True,
    results=[
        dict(
            frames=4,
            top1=0.3152,
            top5=0.6,
            num_videos=24777,
            trained_frames=16,
        ),
        dict(
            frames=8,
            top1=0.5155,
            top5=0.8,
            num_videos=24777,
            trained_frames=16,
        ),
        dict(
            frames=16,
            top1=0.6102,
            top5=0.87,
            num_videos=24777,
            trained_frames=16,
            scores=torch.zeros(1),
        ),
    ],
)


def test_report_files_from_known_numbers(tmp_path):
    paths = write_report(FFN, str(tmp_path))
    assert markdown_table(FFN).splitlines() == [
        '| frames | top-1 (%) | top-5 (%) | top-1 vs 16 f | videos |',
        '|---:|---:|---:|---:|---:|',
        '| 4 | 31.52 | 60.00 | -29.50 | 24777 |',
        '| 8 | 51.55 | 80.00 | -9.47 | 24777 |',
        '| 16 (trained) | 61.02 | 87.00 | +0.00 | 24777 |',
    ]
    saved = json.loads(Path(paths['json']).read_text())
    assert saved['trained_frames'] == 16
    assert saved['results'][0] == FFN['results'][0]
    assert 'scores' not in saved['results'][2]  # tensors stay out
    assert math.isclose(saved['results'][2]['top1'], 0.6102)
    assert Path(paths['md']).read_text().startswith('| frames |')
    assert _png_size(paths['png']) == (600, 400)


def _row(frames, correct, videos, gflops):
    return dict(
        frames=frames,
        top1=sum(correct) / sum(videos),
        top5=1.0,
        num_videos=sum(videos),
        trained_frames=8,
        class_correct=correct,
        class_videos=videos,
        gflops=gflops,
        params_m=23.86,
    )


# 5 classes (class 4 has no video), trained at 8 frames.
VIDEOS = [4, 4, 2, 5, 0]
PER_CLASS = dict(
    trained_frames=8,
    classes=['Pushing a|b', 'Holding', 'Dropping', 'Turning', 'Empty'],
    complexity_input=[3, 224, 224],
    results=[
        _row(4, [1, 4, 0, 1, 0], VIDEOS, 16.44),
        _row(8, [3, 4, 2, 2, 0], VIDEOS, 32.88),
        _row(16, [4, 4, 2, 3, 0], VIDEOS, 65.76),
    ],
)


def test_per_class_report_from_known_numbers(tmp_path):
    from tsm_plugin.evaluation.per_class import classes_lost_most
    from tsm_plugin.evaluation.tables import classes_table

    paths = write_report(PER_CLASS, str(tmp_path))
    table = markdown_table(PER_CLASS).splitlines()
    assert table[:3] == [
        '| frames | top-1 (%) | top-5 (%) | top-1 vs 8 f | GFLOPs '
        '| params (M) | videos |',
        '|---:|---:|---:|---:|---:|---:|---:|',
        '| 4 | 40.00 | 100.00 | -33.33 | 16.4 | 23.86 | 15 |',
    ]
    assert 'one clip of 224x224 px frames' in table[6]
    # 8 -> 4 frames: Dropping 100 -> 0, Pushing 75 -> 25 and Turning
    # 40 -> 20; Holding keeps 100; Empty has no video.
    lost = classes_lost_most(PER_CLASS)
    assert [(c['class'], round(100 * c['change'], 2)) for c in lost] == [
        (2, -100.0),
        (0, -50.0),
        (3, -20.0),
    ]
    assert classes_lost_most(PER_CLASS, k=1)[0]['name'] == 'Dropping'
    assert classes_table(PER_CLASS).splitlines() == [
        'Classes that lose most top-1 from 8 to 4 frames '
        '(3 of 4 classes with videos):',
        '',
        '| class | name | videos | top-1 8 f (%) | top-1 4 f (%) | change |',
        '|---:|---|---:|---:|---:|---:|',
        '| 2 | Dropping | 2 | 100.00 | 0.00 | -100.00 |',
        '| 0 | Pushing a\\|b | 4 | 75.00 | 25.00 | -50.00 |',
        '| 3 | Turning | 5 | 40.00 | 20.00 | -20.00 |',
    ]
    md = Path(paths['md']).read_text()
    assert (
        md
        == markdown_table(PER_CLASS) + '\n\n' + classes_table(PER_CLASS) + '\n'
    )
    assert Path(paths['csv']).read_text().splitlines() == [
        'class,name,videos,top1_4f,top1_8f,top1_16f,change_8f_to_4f',
        '0,Pushing a|b,4,25.00,75.00,100.00,-50.00',
        '1,Holding,4,100.00,100.00,100.00,+0.00',
        '2,Dropping,2,0.00,100.00,100.00,-100.00',
        '3,Turning,5,20.00,40.00,60.00,-20.00',
        '4,Empty,0,,,,',
    ]
    assert _png_size(paths['classes_png']) == (900, 500)
    saved = json.loads(Path(paths['json']).read_text())
    assert saved['results'][0]['class_correct'] == [1, 4, 0, 1, 0]
    assert saved['results'][2]['gflops'] == 65.76
    # Trained at the smallest count: no drop to list.
    low = dict(PER_CLASS, trained_frames=4)
    assert classes_table(low) == '' and classes_lost_most(low) == []
    assert 'classes_png' not in write_report(low, str(tmp_path / 'low'))


def test_report_goes_to_the_visualizer(tmp_path):
    """Scalars at the step, the curve against the frame count, the plots
    as images, through mmengine's LocalVisBackend."""
    from mmengine.visualization import Visualizer

    from tsm_plugin.evaluation.report import log_to_visualizer

    vis = Visualizer(
        name='tfd_report_test',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path),
    )
    log_to_visualizer(vis, PER_CLASS, step=7)
    lines = [
        json.loads(line)
        for line in (tmp_path / 'vis_data' / 'scalars.json')
        .read_text()
        .splitlines()
    ]
    assert lines[0] == {
        'tfd/top1_4f': 0.4,
        'tfd/top1_8f': 11 / 15,
        'tfd/top1_16f': 13 / 15,
        'step': 7,
    }
    curve = {(k, d['step']): v for d in lines[1:] for k, v in d.items()}
    assert curve[('tfd_curve/top1', 4)] == 0.4
    assert curve[('tfd_curve/gflops', 16)] == 65.76
    images = sorted(
        p.name for p in (tmp_path / 'vis_data' / 'vis_image').iterdir()
    )
    assert images == ['tfd_classes_7.png', 'tfd_plot_7.png']
    assert _png_size(
        tmp_path / 'vis_data' / 'vis_image' / 'tfd_plot_7.png'
    ) == (600, 400)
