"""TFDEvalHook: the final weights swept after training, logged and saved."""

import json

from tests.tfd_fixtures import FRAMES, TRAINED
from tsm_plugin.evaluation import markdown_table


def test_hook_sweeps_the_final_weights(trained, tools_test_runs):
    hook, work = trained['hook'], trained['work']
    report = hook.report
    assert report['epoch'] == 1 and report['trained_frames'] == TRAINED
    for row in report['results']:
        assert (
            row['top1']
            == tools_test_runs[row['frames']]['metrics']['acc/top1']
        )
    saved = json.loads((work / 'tfd_final' / 'tfd.json').read_text())
    assert [r['frames'] for r in saved['results']] == list(FRAMES)
    run = sorted(p.parent for p in work.glob('*/*.log'))[0]  # training's
    log = (run / f'{run.name}.log').read_text()
    assert 'TFD of the final weights (epoch 1)' in log
    for line in markdown_table(report).splitlines():
        assert line in log
    scalars = [
        json.loads(line)
        for line in (run / 'vis_data' / 'scalars.json')
        .read_text()
        .splitlines()
    ]
    tfd = next(s for s in scalars if 'tfd/top1_8f' in s)
    assert tfd['tfd/top1_2f'] == report['results'][0]['top1']


def test_hook_report_counts_gflops_and_classes(trained):
    """One clip's GFLOPs at the swept 32 px frames, the model traced per
    frame count; per-class hits that add up to top-1; the CSV and the
    class plot beside tfd.json."""
    from tests.tfd_fixtures import CROP

    report, work = trained['hook'].report, trained['work']
    assert report['complexity_input'] == [3, CROP, CROP]
    rows = {r['frames']: r for r in report['results']}
    for t, row in rows.items():
        # Every per-frame op scales with the frame count.
        assert row['gflops'] * 2 / t == rows[2]['gflops'] > 0
        assert row['params_m'] == rows[2]['params_m']
        assert sum(row['class_videos']) == row['num_videos']
        assert sum(row['class_correct']) / row['num_videos'] == row['top1']
    assert len(report['classes']) == len(rows[2]['class_videos']) == 8
    out = work / 'tfd_final'
    csv = (out / 'tfd_per_class.csv').read_text().splitlines()
    assert csv[0] == 'class,name,videos,top1_2f,top1_4f,top1_8f,' + (
        'change_8f_to_2f'
    )
    assert len(csv) == 1 + 8
    assert (out / 'tfd_classes.png').stat().st_size > 0
    assert (out / 'tfd.md').read_text().count('GFLOPs') >= 2
