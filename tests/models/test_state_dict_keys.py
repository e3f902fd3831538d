"""One naming of the weights: every codebase's keys to canonical names, and
which checkpoint key fills which model key; the backbones' ``pretrained``
files read through it."""

import pytest
import torch

from tests.helpers import random_bns
from tests.models._foreign_models import to_torchvision
from tsm_plugin.errors import InputError
from tsm_plugin.models.state_dict_keys import (
    has_branches,
    match_keys,
    recognise,
    to_canonical,
)

COUNTS = (4, 8, 16)


@pytest.mark.parametrize(
    'key, fmt, counts, name',
    [
        # torchvision: already canonical
        ('layer1.0.conv1.weight', 'ours', None, 'layer1.0.conv1.weight'),
        ('layer2.0.downsample.1.bias', 'ours', None, None),
        # ours TSM / mmaction2 ResNetTSM, recognizer and backbone keys
        (
            'backbone.layer1.0.conv1.conv.net.weight',
            'ours',
            None,
            'layer1.0.conv1.weight',
        ),
        ('conv1.bn.running_var', 'ours', None, 'bn1.running_var'),
        (
            'backbone.layer2.0.downsample.bn.bias',
            'ours',
            None,
            'layer2.0.downsample.1.bias',
        ),
        ('cls_head.fc_cls.weight', 'ours', None, 'fc.weight'),
        # ours FFN
        ('backbone.bn1.0.weight', 'ours', COUNTS, 'bn1#4.weight'),
        (
            'layer2.0.downsample.bn.2.bias',
            'ours',
            COUNTS,
            'layer2.0.downsample.1#16.bias',
        ),
        (
            'layer1.0.adapter.1.weight',
            'ours',
            COUNTS,
            'layer1.0.adapter#8.weight',
        ),
        ('layer1.0.downsample.conv.weight', 'ours', COUNTS, None),
        # the TSM repo
        (
            'module.base_model.layer1.0.conv1.net.weight',
            'tsm_repo',
            None,
            'layer1.0.conv1.weight',
        ),
        ('module.new_fc.bias', 'tsm_repo', None, 'fc.bias'),
        # the FFN repo
        ('module.base_model.bn1_4.weight', 'ffn_repo', None, 'bn1#4.weight'),
        (
            'module.base_model.layer3.0.downsample_bn_16.running_mean',
            'ffn_repo',
            None,
            'layer3.0.downsample.1#16.running_mean',
        ),
        (
            'module.base_model.layer1.2.adaconv_8.weight',
            'ffn_repo',
            None,
            'layer1.2.adapter#8.weight',
        ),
        (
            'module.base_model.layer1.0.downsample_conv.weight',
            'ffn_repo',
            None,
            'layer1.0.downsample.0.weight',
        ),
    ],
)
def test_every_codebase_reads_into_one_name(key, fmt, counts, name):
    if name is None:  # the names that stay (torchvision's own, shared convs)
        name = key.replace('downsample.conv.', 'downsample.0.')
    assert to_canonical(key, fmt, counts) == name


def test_formats_and_branches_are_told_by_the_keys():
    assert recognise(['backbone.conv1.conv.weight']) == 'ours'
    assert recognise(['module.base_model.layer1.0.conv1.net.weight']) == (
        'tsm_repo'
    )
    assert recognise(['module.base_model.bn1_16.bias']) == 'ffn_repo'
    assert has_branches(['backbone.layer1.0.bn1.2.weight'])
    assert has_branches(['bn1.0.weight'])
    assert not has_branches(['backbone.layer1.0.conv1.bn.weight'])
    with pytest.raises(ValueError, match='unknown state dict format'):
        to_canonical('conv1.weight', 'timm')


def test_one_network_fills_every_branch_and_leaves_adapters_alone():
    source = ['conv1.weight', 'bn1.weight', 'fc.weight']
    target = [
        'conv1.weight',
        'bn1.0.weight',
        'bn1.1.weight',
        'layer1.0.adapter.0.weight',
        'bn1.0.num_batches_tracked',
        'layer1.0.conv2.weight',
    ]
    found = match_keys(source, target, counts=(4, 8))
    assert found.pairs == {
        'conv1.weight': 'conv1.weight',
        'bn1.0.weight': 'bn1.weight',
        'bn1.1.weight': 'bn1.weight',
    }
    assert found.missing == ['layer1.0.conv2.weight']
    assert found.unused == ['fc.weight']


def test_an_ffn_source_fills_each_branch_from_its_own():
    source = ['backbone.bn1.0.weight', 'backbone.bn1.1.weight']
    target = ['backbone.bn1.0.weight', 'backbone.bn1.1.weight']
    found = match_keys(source, target, counts=(4, 8))
    assert found.pairs == dict(zip(target, source))
    # the FFN repo's tags name frame counts, not positions
    repo = ['module.base_model.bn1_8.weight', 'module.base_model.bn1_4.weight']
    found = match_keys(repo, target, counts=(4, 8))
    assert found.pairs == dict(zip(target, reversed(repo)))


def test_pretrained_file_of_another_depth_is_one_line(tmp_path):
    """A backbone's ``pretrained`` goes through the same names, and a
    tensor that does not fit is refused (no silent partial load)."""
    from tsm_plugin.models.ffn_resnet import FFNResNet
    from tsm_plugin.models.tsm_resnet import TSMResNet

    r18 = random_bns(TSMResNet(18))
    state = {to_torchvision(k): v for k, v in r18.state_dict().items()}
    path = tmp_path / 'resnet18.pth'
    torch.save(state, path)
    for model in (TSMResNet(50, pretrained=str(path)), FFNResNet(50)):
        model.pretrained = str(path)
        with pytest.raises(InputError) as err:
            model.init_weights()
        assert str(err.value).startswith(f'pretrained checkpoint {path}: ')
        assert 'layer1.0.conv1.weight has shape (64, 64, 3, 3)' in str(
            err.value
        )
