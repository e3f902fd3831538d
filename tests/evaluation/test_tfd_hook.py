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
