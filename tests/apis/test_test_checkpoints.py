"""tools/test.py loads the TSM repo's, mmaction2's and our checkpoints of one
model to identical scores, names the format in one log line, refuses a
checkpoint that does not fit in one line (exit 2), and evaluates in fp32
unless --precision says otherwise (a bf16-trained config too), naming the
precision in its result and in the test log's JSON."""

import json
import pickle

import pytest
import torch

from tests.models._foreign_models import (
    TSMRepoTSN,
    copy_by_position,
    tsm_repo_checkpoint,
)
from tests.tfd_fixtures import TRAINED
from tsm_plugin.apis import convert_checkpoint as convert_api
from tsm_plugin.apis import test as test_api
from tsm_plugin.engine.checkpoint import load_checkpoint_file

NUM_CLASSES = 8  # the demo config's
VIDEOS = 2  # one batch of the test split: the scores of its first videos

# The session's TFD training run, and tools/test.py's body on a Runner.
pytestmark = pytest.mark.slow


def run(trained, ckpt, work, *options, precision=None):
    """tools/test.py's body on the first test videos; (result, dumped
    scores, log text, the test log's JSON)."""
    argv = [
        trained['cfg_file'],
        str(ckpt),
        '--work-dir',
        str(work),
        '--dump',
        str(work / 'scores.pkl'),
        '--cfg-options',
        f'test_dataloader.dataset.indices={VIDEOS}',
        *options,
    ]
    if precision:
        argv += ['--precision', precision]
    result = test_api.test(test_api.build_parser().parse_args(argv))
    with open(work / 'scores.pkl', 'rb') as f:
        scores = torch.stack([d['pred_score'] for d in pickle.load(f)])
    log = next(work.glob('*/*.log'))
    test_json = json.loads(next(work.glob('*/*.json')).read_text())
    return result, scores, log.read_text(), test_json


@pytest.fixture(scope='module')
def reference(tools_test_runs):
    """tools/test.py's scores of our checkpoint (fp32, the full split)."""
    return tools_test_runs[TRAINED]['scores'][:VIDEOS]


@pytest.fixture(scope='module')
def repo_ckpt(trained, tmp_path_factory):
    """The trained weights as the TSM repo's main.py would have saved them."""
    state = load_checkpoint_file(trained['ckpt'])['state_dict']
    repo = TSMRepoTSN(NUM_CLASSES, TRAINED)
    wrapped = torch.nn.DataParallel(repo)
    wrapped.load_state_dict(copy_by_position(state, wrapped))
    path = tmp_path_factory.mktemp('repo') / 'TSM_ssv2_segment8.pth.tar'
    torch.save(tsm_repo_checkpoint(repo), path)
    return path


def test_tsm_repo_checkpoint_scores_identically(
    trained, repo_ckpt, reference, tmp_path
):
    _, scores, log, _ = run(trained, repo_ckpt, tmp_path)
    assert torch.equal(scores, reference)
    assert log.count('Checkpoint format: ') == 1
    assert 'Checkpoint format: tsm_repo; ' in log


def test_mmaction2_zoo_checkpoint_scores_identically(
    trained, reference, tmp_path
):
    zoo = tmp_path / 'tsm_r18_sthv2_20230317-abcdef.pth'
    state = load_checkpoint_file(trained['ckpt'])['state_dict']
    torch.save(
        dict(meta=dict(mmengine_version='0.7.2'), state_dict=state), zoo
    )
    _, scores, log, _ = run(trained, zoo, tmp_path / 'w')
    assert torch.equal(scores, reference)
    assert log.count('Checkpoint format: ') == 1
    assert 'Checkpoint format: mmaction2; ' in log


def test_converter_writes_ours(trained, repo_ckpt, tmp_path):
    """tools/convert_checkpoint.py: the TSM repo's file -> exactly the
    trained tensors under our keys (which tools/test.py loads as ours)."""
    dst = tmp_path / 'ours.pth'
    assert (
        convert_api.main([trained['cfg_file'], str(repo_ckpt), str(dst)]) == 0
    )
    saved = load_checkpoint_file(str(dst))
    assert saved['meta']['source_format'] == 'tsm_repo'
    state = load_checkpoint_file(trained['ckpt'])['state_dict']
    assert saved['state_dict'].keys() == state.keys()
    for k, v in state.items():  # BN step counters: the repo file's
        if not k.endswith('num_batches_tracked'):
            assert torch.equal(saved['state_dict'][k], v), k


def test_a_checkpoint_that_does_not_fit_exits_2_in_one_line(
    trained, tmp_path, capsys
):
    """Before: mmengine warned, loaded nothing, and tools/test.py reported
    the random model's accuracy with exit 0."""
    wrong = tmp_path / 'k400.pth.tar'
    torch.save(tsm_repo_checkpoint(TSMRepoTSN(400, TRAINED)), wrong)
    argv = [trained['cfg_file'], str(wrong), '--work-dir', str(tmp_path)]
    capsys.readouterr()
    assert test_api.main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f'error: {wrong} (tsm_repo format) does not fit the model of the '
        'config: module.new_fc.weight (-> cls_head.fc_cls.weight) is '
        '[400, 512] in the checkpoint but [8, 512] in the model (+1 more)\n'
    )
    dst = tmp_path / 'out.pth'
    assert convert_api.main([trained['cfg_file'], str(wrong), str(dst)]) == 2
    assert capsys.readouterr().err.count('\n') == 1
    assert not dst.exists()


def test_bf16_trained_config_evaluates_in_fp32_unless_told(
    trained, reference, tmp_path
):
    bf16 = 'optim_wrapper.precision=bf16'
    result, scores, log, test_json = run(
        trained, trained['ckpt'], tmp_path / 'a', bf16
    )
    assert result['precision'] == test_json['precision'] == 'fp32'
    assert 'acc/top1' in test_json
    assert torch.equal(scores, reference)
    assert 'EvalAutocastHook: test in fp32' in log
    assert log.count('Checkpoint format: ') == 1
    assert 'Checkpoint format: ours; ' in log
    result, scores, log, test_json = run(
        trained, trained['ckpt'], tmp_path / 'b', bf16, precision='bf16'
    )
    assert result['precision'] == test_json['precision'] == 'bf16'
    assert 'EvalAutocastHook: test in bf16' in log
    assert not torch.equal(scores, reference)  # bf16 rounds differently
    torch.testing.assert_close(scores, reference, atol=0.05, rtol=0)
