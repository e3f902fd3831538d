"""The TFD sweep under the accurate and zoo test protocols equals separate
tools/test.py runs, decodes each video once for all frame counts and views,
and averages the views as the originals do."""

import json
import pickle

import pytest
import torch

from tests.helpers import one_thread_fixture, record_decodes
from tests.tfd_fixtures import TRAINED
from tsm_plugin.apis import eval_tfd as eval_api
from tsm_plugin.apis import test as test_api
from tsm_plugin.datasets.test_protocols import apply_test_protocol
from tsm_plugin.evaluation import (
    MultiFrameTestSample,
    markdown_table,
    run_sweep,
)
from tsm_plugin.utils.config import load_config, set_num_frames

one_thread = one_thread_fixture('module')

FRAMES = (2, TRAINED)
SIDE = 32  # short side and crop: CPU-test sized (the originals: 256)
PROTOCOLS = ('accurate', 'zoo')


@pytest.fixture(scope='module')
def protocol_cfg(trained, tmp_path_factory):
    """The TFD run's config with a config-level choice: zoo at 32 px; the
    first 4 test videos (each costs 6 views per frame count)."""
    path = tmp_path_factory.mktemp('protocol_cfg') / 'tiny_zoo.py'
    path.write_text(
        f'_base_ = [{trained["cfg_file"]!r}]\n'
        f"test_protocol = dict(type='zoo', short_side={SIDE})\n"
        'test_dataloader = dict(dataset=dict(indices=4))\n'
    )
    return str(path)


@pytest.fixture(scope='module')
def test_runs(trained, protocol_cfg, tmp_path_factory):
    """tools/test.py's body per protocol and frame count: metrics, scores.

    accurate (--protocol) at every count of FRAMES; zoo (the config's
    choice, no flag) at the trained count.
    """
    out = {}
    runs = [('accurate', t) for t in FRAMES] + [('zoo', TRAINED)]
    for protocol, t in runs:
        work = tmp_path_factory.mktemp(f'test_{protocol}_{t}f')
        argv = [protocol_cfg, trained['ckpt'], '--work-dir', str(work)]
        argv += ['--dump', str(work / 'scores.pkl')]
        if protocol == 'accurate':
            argv += ['--protocol', protocol]
        if t != TRAINED:
            argv += ['--num-frames', str(t)]
        metrics = test_api.test(test_api.build_parser().parse_args(argv))
        with open(work / 'scores.pkl', 'rb') as f:
            scores = torch.stack([d['pred_score'] for d in pickle.load(f)])
        logged = list(work.glob('*/*.json'))
        out[protocol, t] = dict(
            metrics=metrics,
            scores=scores,
            json=json.loads(logged[0].read_text()),
        )
    return out


def test_sweep_equals_tools_test_under_accurate(
    trained, protocol_cfg, test_runs, tmp_path
):
    """The sweep (decode once, --protocol as run_sweep's argument) at each
    frame count gives tools/test.py --protocol accurate's scores."""
    report = run_sweep(
        load_config(protocol_cfg),
        trained['ckpt'],
        FRAMES,
        work_dir=str(tmp_path),
        keep_scores=True,
        protocol='accurate',
    )
    assert report['protocol'] == dict(
        name='accurate',
        summary='TSM repo: 2 clips (twice sample) x 3 full-res crops 32x32 '
        'after short side 32, logits averaged',
        published='63.1 (TSM repo)',
        short_side=SIDE,
        views=6,
        average_clips='score',
    )
    for row in report['results']:
        ref = test_runs['accurate', row['frames']]
        assert ref['json']['protocol'] == 'accurate'  # the test log's JSON
        assert row['top1'] == ref['metrics']['acc/top1']
        assert row['top5'] == ref['metrics']['acc/top5']
        torch.testing.assert_close(
            row['scores'], ref['scores'], rtol=0, atol=0
        )
    assert markdown_table(report).endswith(
        '\nProtocol: accurate (' + report['protocol']['summary'] + ')'
    )


@pytest.mark.parametrize('protocol', PROTOCOLS)
def test_views_are_averaged_as_the_original_does(
    trained, protocol_cfg, test_runs, protocol
):
    """tools/test.py's score of a video is the mean over its 2 x 3 views of
    the logits (TSM repo) or of their softmax (mmaction2)."""
    from mmaction.registry import DATASETS, MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    init_default_scope('mmaction')
    cfg = load_config(protocol_cfg)
    apply_test_protocol(cfg, protocol)
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(
        model, trained['ckpt'], map_location='cpu', logger='silent'
    )
    sample = DATASETS.build(cfg.test_dataloader.dataset)[0]
    data = model.data_preprocessor(
        dict(inputs=[sample['inputs']], data_samples=[sample['data_samples']])
    )
    assert data['inputs'].shape == (1, 6 * TRAINED, 3, SIDE, SIDE)
    with torch.no_grad():  # the head's scores, before averaging
        views, _ = model.extract_feat(
            data['inputs'], stage='head', test_mode=True
        )
    assert views.shape[0] == 6  # one score per view
    want = (
        views.mean(0) if protocol == 'accurate' else views.softmax(-1).mean(0)
    )
    scores = test_runs[protocol, TRAINED]['scores']
    torch.testing.assert_close(scores[0], want, rtol=1e-5, atol=1e-6)
    sums = scores.sum(-1)  # probabilities (zoo) sum to 1, logits do not
    assert torch.allclose(sums, torch.ones_like(sums)) == (protocol == 'zoo')


def test_all_views_of_all_frame_counts_come_from_one_decoding(
    trained, protocol_cfg
):
    """accurate (zoo differs in its crop steps only, after the decoder)."""
    protocol = 'accurate'
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    cfg = load_config(protocol_cfg)
    apply_test_protocol(cfg, protocol)
    ds_cfg = cfg.test_dataloader.dataset
    sample = MultiFrameTestSample(ds_cfg.pipeline, FRAMES)
    requested = record_decodes(sample)
    item = DATASETS.build(dict(ds_cfg, pipeline=[sample]))[0]
    assert len(requested) == 1, 'one decode for all counts and views'
    opened = DATASETS.build(ds_cfg).get_data_info(0)
    for t in sample.before:
        opened = t(opened)
    total = opened['total_frames']

    def twice(t):  # the TSM repo's / mmaction2's twice sample
        tick = total / float(t)
        return [int(tick / 2.0 + tick * x) for x in range(t)] + [
            int(tick * x) for x in range(t)
        ]

    assert requested[0].tolist() == sorted(
        {i for t in FRAMES for i in twice(t)}
    )
    for t in FRAMES:
        cfg_t = load_config(protocol_cfg)
        set_num_frames(cfg_t, t)
        apply_test_protocol(cfg_t, protocol)
        plain = DATASETS.build(cfg_t.test_dataloader.dataset)[0]
        assert item[t]['inputs'].shape == (6 * t, 3, SIDE, SIDE)
        assert torch.equal(item[t]['inputs'], plain['inputs'])


def test_eval_tfd_under_the_configs_protocol_names_it(
    trained, protocol_cfg, test_runs, tmp_path, capsys
):
    """tools/eval_tfd.py under the config's choice (zoo, no flag): the
    numbers are tools/test.py's (which the config's choice also drove), and
    the JSON, the table and the printed table name the protocol."""
    out = tmp_path / 'tfd'
    argv = [protocol_cfg, trained['ckpt'], '--frames', str(TRAINED)]
    assert eval_api.main(argv + ['--out', str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / 'tfd.json').read_text())
    assert saved['protocol']['name'] == 'zoo'
    assert saved['protocol']['average_clips'] == 'prob'
    assert saved['protocol']['published'] == '64.16 (mmaction2 1.x)'
    ref = test_runs['zoo', TRAINED]
    assert ref['json']['protocol'] == 'zoo'
    (row,) = saved['results']
    for key in ('top1', 'top5', 'mean1'):
        assert row[key] == ref['metrics'][f'acc/{key}']
    # the two protocols score the same videos differently (other crops,
    # other averaging; this model's logits are all near 0)
    other = test_runs['accurate', TRAINED]['scores'].softmax(-1)
    assert (ref['scores'] - other).abs().max() > 1e-6
    table = (out / 'tfd.md').read_text()
    assert 'Protocol: zoo (mmaction2 1.x zoo: 2 clips' in table
    assert table.strip() in printed
