"""One naming of TSM and FFN weights, whichever codebase saved them.

Five codebases name the same ResNet weights differently, and FFN
(https://arxiv.org/abs/2303.14817) keeps one BatchNorm and one adapter per
frame count. Every key is read into one canonical name, torchvision's
ResNet key, with ``fc`` for the classifier and a ``#<frames>`` tag on a
BatchNorm or adapter private to one FFN branch; the temporal shift holds no
weights and leaves no trace:

============================  ===========  ====================================
codebase                      format       the first block's conv and BN
============================  ===========  ====================================
torchvision ResNet            ``ours``     ``layer1.0.conv1.weight``,
                                           ``layer1.0.bn1.weight``
this plugin's TSM, mmaction2  ``ours``     ``backbone.layer1.0.conv1.conv.net
``ResNetTSM``                              .weight``, ``...conv1.bn.weight``
this plugin's FFN             ``ours``     ``backbone.layer1.0.conv1.weight``,
                                           ``...bn1.2.weight`` (branch 2)
mit-han-lab/temporal-shift-   ``tsm_repo`` ``module.base_model.layer1.0.conv1
module                                     .net.weight``
BeSpontaneous/FFN-pytorch     ``ffn_repo`` ``module.base_model.layer1.0.bn1_16
                                           .weight``, ``adaconv_16``
============================  ===========  ====================================

canonical: ``layer1.0.conv1.weight``, ``layer1.0.bn1.weight`` (one network)
or ``layer1.0.bn1#16.weight`` (the 16-frame branch).

A recognizer's keys (``backbone.``, ``cls_head.fc_cls.``) and a backbone's
own keys (no prefix) read alike. The module is a leaf: plain strings, no
torch, no other module of the plugin.
"""

import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

FORMATS = ('ours', 'tsm_repo', 'ffn_repo')

_REPO_PREFIX = 'module.base_model.'
_REPO_FC = 'module.new_fc.'
_OUR_FC = 'cls_head.fc_cls.'
_BRANCH_TAG = re.compile(r'#\d+')
# one of our FFN's per-branch BatchNorms: ``bn1.0.``, ``layer1.0.bn2.1.``
_OUR_BRANCH_BN = re.compile(r'(?:^|\.)bn\d?\.\d+\.')
# one of the FFN repo's: ``bn1_4.``, ``downsample_bn_16.``
_REPO_BRANCH = re.compile(r'(?:^|\.)(?:bn\d_\d+|adaconv_\d+)\.')

# ours, one network (TSM, ResNetTSM; identity on torchvision keys): the
# shift wrapper, mmaction2's ConvModule (conv + bn) and downsample.
_SINGLE = (
    (re.compile(r'\.net\.'), '.'),
    (re.compile(r'downsample\.conv\.'), 'downsample.0.'),
    (re.compile(r'downsample\.bn\.'), 'downsample.1.'),
    (re.compile(r'conv(\d)\.conv\.'), r'conv\1.'),
    (re.compile(r'conv(\d)\.bn\.'), r'bn\1.'),
)
# the repos (the FFN repo's tags; the TSM repo is torchvision plus ``.net``)
_REPO = (
    (re.compile(r'\.net\.'), '.'),
    (re.compile(r'downsample_conv\.'), 'downsample.0.'),
    (re.compile(r'downsample_bn_(\d+)\.'), r'downsample.1#\1.'),
    (re.compile(r'adaconv_(\d+)\.'), r'adapter#\1.'),
    (re.compile(r'(^|\.)(bn\d?)_(\d+)\.'), r'\1\2#\3.'),
)


def recognise(keys: Iterable[str]) -> str:
    """The format of a state dict's keys, one of :data:`FORMATS`."""
    keys = list(keys)
    if not any(k.startswith(_REPO_PREFIX) for k in keys):
        return 'ours'
    ffn = any(_REPO_BRANCH.search(k) for k in keys)
    return 'ffn_repo' if ffn else 'tsm_repo'


def has_branches(keys: Iterable[str]) -> bool:
    """Whether keys in our format are an FFN's (per-branch BatchNorms)."""
    return any(_OUR_BRANCH_BN.search(k) for k in keys)


def _tag(counts: Sequence[int], index: str) -> str:
    return f'#{counts[int(index)]}'


def _ours(key: str, counts: Optional[Sequence[int]]) -> str:
    if key.startswith(_OUR_FC):
        return 'fc.' + key[len(_OUR_FC) :]
    name = key[len('backbone.') :] if key.startswith('backbone.') else key
    if counts is None:
        for pattern, repl in _SINGLE:
            name = pattern.sub(repl, name)
        return name
    # a branch's own conv (FFNResNet(weight_sharing=False)) is tagged too
    name = re.sub(
        r'downsample\.(conv|bn)\.(\d+)\.',
        lambda m: f'downsample.{int(m[1] == "bn")}{_tag(counts, m[2])}.',
        name,
    )
    name = name.replace('downsample.conv.', 'downsample.0.')
    return re.sub(
        r'(^|\.)(bn\d?|adapter|conv\d?)\.(\d+)\.',
        lambda m: f'{m[1]}{m[2]}{_tag(counts, m[3])}.',
        name,
    )


def _repo(key: str) -> str:
    if key.startswith(_REPO_FC):
        return 'fc.' + key[len(_REPO_FC) :]
    name = key[len(_REPO_PREFIX) :] if key.startswith(_REPO_PREFIX) else key
    for pattern, repl in _REPO:
        name = pattern.sub(repl, name)
    return name


def to_canonical(
    key: str, fmt: str, counts: Optional[Sequence[int]] = None
) -> str:
    """The canonical name of one key.

    Args:
        key (str): A state dict key of a recognizer or a backbone.
        fmt (str): Its format (:data:`FORMATS`).
        counts (Sequence[int], optional): For ``'ours'`` keys of an FFN, the
            backbone's ``frame_counts``: branch ``i`` is tagged
            ``#counts[i]``. None for one network.

    ``backbone.layer1.0.conv1.conv.net.weight`` -> ``layer1.0.conv1.weight``;
    ``layer2.0.downsample.bn.2.bias`` (counts (4, 8, 16)) ->
    ``layer2.0.downsample.1#16.bias``; ``module.new_fc.weight`` ->
    ``fc.weight``.
    """
    if fmt == 'ours':
        return _ours(key, counts)
    if fmt in FORMATS:
        return _repo(key)
    raise ValueError(f'unknown state dict format {fmt!r}; one of {FORMATS}')


def without_branch(name: str) -> str:
    """A canonical name with its branch tag removed (``bn1#4`` -> ``bn1``)."""
    return _BRANCH_TAG.sub('', name)


class KeyMatch(NamedTuple):
    """Which source key fills which target key (:func:`match_keys`)."""

    pairs: Dict[str, str]  # target key -> source key
    missing: List[str]  # target keys no source key fills
    unused: List[str]  # source keys that fill nothing


def _skipped(key: str) -> bool:
    return key.endswith('num_batches_tracked')


def match_keys(
    source: Iterable[str],
    target: Iterable[str],
    fmt: Optional[str] = None,
    counts: Optional[Sequence[int]] = None,
) -> KeyMatch:
    """Pair the keys of a checkpoint with those of a model, by canonical name.

    A per-branch target name takes the source's tensor of the same branch,
    else the source's single-network tensor: a TSM (or torchvision ResNet)
    fills every branch of an FFN, which is FFN's warm start. Adapters a
    single-network source lacks are not missing (they keep the model's
    init); neither are ``num_batches_tracked`` buffers.

    Args:
        source (Iterable[str]): The checkpoint's keys.
        target (Iterable[str]): The model's keys (a recognizer's or a
            backbone's).
        fmt (str, optional): The source's format; recognised if None.
        counts (Sequence[int], optional): The model's FFN ``frame_counts``
            (None for one network); an FFN source in our format is read
            with the same counts.

    Returns:
        KeyMatch: The pairs, the missing target keys, the unused source
        keys.
    """
    source = list(source)
    fmt = fmt or recognise(source)
    source_counts = counts if fmt == 'ours' and has_branches(source) else None
    by_name = {to_canonical(k, fmt, source_counts): k for k in source}
    pairs, missing = {}, []
    for key in target:
        name = to_canonical(key, 'ours', counts)
        hit = name if name in by_name else without_branch(name)
        if hit in by_name:
            pairs[key] = by_name[hit]
        elif not (_skipped(key) or ('#' in name and 'adapter' in name)):
            missing.append(key)
    used = set(pairs.values())
    unused = [k for k in source if k not in used and not _skipped(k)]
    return KeyMatch(pairs, missing, unused)


__all__ = [
    'FORMATS',
    'KeyMatch',
    'has_branches',
    'match_keys',
    'recognise',
    'to_canonical',
    'without_branch',
]
