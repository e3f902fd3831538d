"""tools/make_synthetic.py writes each layout with the flags it takes, keeps
each generator's defaults for the flags left out, and refuses a flag the
layout does not take in one line (exit 2)."""

import csv
import json

import pytest

from tsm_plugin.apis import make_synthetic

SMALL = ['--height', '16', '--width', '20', '--fps', '6']
SHORT = ['--min-seconds', '0.5', '--max-seconds', '0.5']


@pytest.mark.parametrize(
    'layout, flags, check',
    [
        (
            'ssv2',
            ['--num-train', '1', '--num-val', '0', '--num-test', '0'],
            lambda out: (
                len(json.loads((out / 'labels' / 'train.json').read_text()))
                == 8
            ),
        ),
        (
            'sthv1',
            ['--num-train', '1', '--num-val', '0', '--num-test', '0']
            + ['--extra-classes', '2'],
            lambda out: (
                len(
                    (out / 'something-something-v1-labels.csv')
                    .read_text()
                    .splitlines()
                )
                == 10
            ),
        ),
        (
            'k400',
            ['--num-train', '1', '--num-val', '0', '--missing', '1']
            + ['--k400-layout', 'class_folders'],
            lambda out: (
                len(list(csv.DictReader(open(out / 'annotations/train.csv'))))
                == 8
                and len(list((out / 'train').glob('*/*.mp4'))) == 7
            ),
        ),
        (
            'hmdb51',
            ['--videos-per-class', '2'],
            lambda out: len(list((out / 'hmdb51').glob('*/*.avi'))) == 16,
        ),
    ],
)
def test_each_layout(tmp_path, layout, flags, check):
    out = tmp_path / layout
    argv = [layout, '--out', str(out), *SMALL, *SHORT, *flags]
    assert make_synthetic.main(argv) == 0
    assert check(out)


def test_a_flag_the_layout_does_not_take_is_one_line(tmp_path, capsys):
    argv = ['hmdb51', '--out', str(tmp_path), '--num-train', '1']
    assert make_synthetic.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert '--num-train does not apply to the hmdb51 layout' in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_ssv2_tool_is_the_ssv2_layout(tmp_path):
    argv = ['--out', str(tmp_path), *SMALL, *SHORT, '--num-train', '1']
    argv += ['--num-val', '0', '--num-test', '0']
    assert make_synthetic.main(argv, layout='ssv2') == 0
    assert (tmp_path / 'labels' / 'labels.json').is_file()
