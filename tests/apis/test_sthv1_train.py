"""The SSv1 recipes through tools/train.py's body (one epoch of TSM and of
FFN on a synthetic SSv1 set, each ending with a checkpoint), and a TSM-repo
SSv1 checkpoint (174 classes in its sorted order) scoring through
tools/test.py's body exactly as our checkpoint of the same weights."""

import pickle

import pytest
import torch

from tests.helpers import REPO, SHORT_RUN, one_thread_fixture
from tests.models._foreign_models import (
    TSMRepoTSN,
    copy_by_position,
    tsm_repo_checkpoint,
)
from tsm_plugin.apis import test as test_api
from tsm_plugin.apis import train as train_api
from tsm_plugin.engine.checkpoint import load_checkpoint_file
from tsm_plugin.testing.synthetic_sthv1 import (
    CSV,
    make_synthetic_sthv1,
)
from tsm_plugin.utils.config import iter_datasets, load_config

# Runners on real frame folders.
pytestmark = pytest.mark.slow
# Tiny convolutions: a second torch thread only waits.
one_thread = one_thread_fixture('module')

FRAMES = 4  # trained and tested frame count (FFN: its 4-frame branch)
CROP = 32
#: CPU-sized: ResNet-18 from scratch, fp32, the layout the loader gives.
TINY_MODEL = {
    'num_frames': FRAMES,
    'model.backbone.depth': 18,
    'model.backbone.pretrained': None,
    'model.cls_head.in_channels': 512,
    'model.data_preprocessor.channels_last': False,
    'optim_wrapper.precision': 'fp32',
}


@pytest.fixture(scope='module')
def sthv1_174(tmp_path_factory):
    """8 classes x (1 train + 1 validation) videos, 174 class names (166
    without videos), as SSv1's labels CSV has."""
    root = tmp_path_factory.mktemp('sthv1_174')
    make_synthetic_sthv1(
        str(root),
        num_train_per_class=1,
        num_val_per_class=1,
        num_test_per_class=0,
        height=32,
        width=40,
        min_seconds=1.0,
        max_seconds=1.5,
        extra_classes=166,
        progress=False,
    )
    return root


def tiny_recipe(config, work):
    """``config`` (an SSv1 recipe) at CPU size, written to a file: R-18,
    4 frames, every pipeline's crop/resize a resize to 32x32, 4 training
    videos (2 iterations)."""
    cfg = load_config(str(REPO / 'configs' / config), dict(TINY_MODEL))
    resize = dict(type='Resize', scale=(CROP, CROP), keep_ratio=False)
    for ds in iter_datasets(cfg):
        ds.pipeline = [
            resize if t.type == 'FusedCropResize' else t for t in ds.pipeline
        ]
    cfg.train_dataloader.dataset.indices = 4
    path = work / f'tiny_{config}'
    cfg.dump(str(path))
    return path


def train(config, root, work):
    """tools/train.py's body, one epoch; the checkpoint it ends with."""
    argv = [
        str(tiny_recipe(config, work)),
        '--data-root',
        str(root),
        '--work-dir',
        str(work),
        '--epochs',
        '1',
        *SHORT_RUN,
    ]
    assert train_api.main(argv) == 0
    return load_checkpoint_file(str(work / 'epoch_1.pth'))


def sorted_names(root):
    names = (root / CSV['labels']).read_text().splitlines()
    assert len(names) == 174 and names != sorted(names)
    return tuple(sorted(names))


@pytest.fixture(scope='module')
def tsm(sthv1_174, tmp_path_factory):
    work = tmp_path_factory.mktemp('tsm_sthv1')
    return work, train('tsm_r50_16f_sthv1.py', sthv1_174, work)


def test_tsm_trains_an_epoch_on_sthv1(tsm, sthv1_174):
    _, ckpt = tsm
    assert ckpt['meta']['epoch'] == 1
    assert ckpt['meta']['dataset_meta']['classes'] == sorted_names(sthv1_174)
    assert ckpt['state_dict']['cls_head.fc_cls.weight'].shape == (174, 512)


def test_ffn_trains_an_epoch_on_sthv1(sthv1_174, tmp_path):
    ckpt = train('ffn_r50_4-8-16f_sthv1.py', sthv1_174, tmp_path)
    assert ckpt['meta']['epoch'] == 1
    assert ckpt['meta']['dataset_meta']['classes'] == sorted_names(sthv1_174)
    assert any('.adapter.' in k for k in ckpt['state_dict'])


def scores(cfg_file, ckpt, root, work):
    """tools/test.py's body on the first 2 validation videos."""
    argv = [
        str(cfg_file),
        str(ckpt),
        '--data-root',
        str(root),
        '--work-dir',
        str(work),
        '--dump',
        str(work / 'scores.pkl'),
        '--cfg-options',
        'test_dataloader.dataset.indices=2',
    ]
    test_api.test(test_api.build_parser().parse_args(argv))
    with open(work / 'scores.pkl', 'rb') as f:
        return torch.stack([d['pred_score'] for d in pickle.load(f)])


def test_a_tsm_repo_sthv1_checkpoint_scores_as_ours(tsm, sthv1_174, tmp_path):
    """The trained weights as the TSM repo's main.py saves them (keys
    ``module.base_model...``, head ``module.new_fc``, 174 classes in
    gen_label_sthv1.py's sorted order): the same dumped scores."""
    work, ours = tsm
    repo = TSMRepoTSN(174, FRAMES)
    wrapped = torch.nn.DataParallel(repo)
    wrapped.load_state_dict(copy_by_position(ours['state_dict'], wrapped))
    repo_ckpt = tmp_path / 'TSM_something_RGB_resnet18_segment4.pth.tar'
    torch.save(tsm_repo_checkpoint(repo), repo_ckpt)

    cfg_file = work / 'tiny_tsm_r50_16f_sthv1.py'
    reference = scores(
        cfg_file, work / 'epoch_1.pth', sthv1_174, tmp_path / 'ours'
    )
    got = scores(cfg_file, repo_ckpt, sthv1_174, tmp_path / 'repo')
    assert reference.shape == (2, 174)
    assert torch.equal(got, reference)
    log = next((tmp_path / 'repo').glob('*/*.log')).read_text()
    assert 'Checkpoint format: tsm_repo; ' in log
