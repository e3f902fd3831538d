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
