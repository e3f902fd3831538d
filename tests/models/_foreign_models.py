"""Foreign TSM models rebuilt from their codebases' own structure, so their
``state_dict`` keys come from module nesting, not from a key mapping.

* :class:`TSMRepoTSN`: mit-han-lab/temporal-shift-module's ``TSN``
  (``ops/models.py``) around a torchvision-layout ResNet-18 (torchvision is
  not installed here; the layout is torchvision's ``resnet.py``: ``conv1``,
  ``bn1``, ``layer<i>.<j>.{conv1,bn1,conv2,bn2,downsample.0/1}``, ``fc``),
  the residual shift of ``ops/temporal_shift.py`` (``TemporalShift.net``
  wraps each block's ``conv1``), dropout > 0 so the classifier is
  ``new_fc``, average consensus. Saved from ``nn.DataParallel`` as the
  repo's ``main.py`` saves: ``module.base_model...``.
* mmaction2's zoo model is the installed ``ResNetTSM`` itself
  (:func:`mmaction2_tsm`).
"""

import torch
from torch import nn


class RepoTemporalShift(nn.Module):
    """``ops/temporal_shift.py``'s ``TemporalShift`` (non-inplace)."""

    def __init__(self, net, n_segment, n_div=8):
        super().__init__()
        self.net, self.n_segment, self.fold_div = net, n_segment, n_div

    def forward(self, x):
        nt, c, h, w = x.size()
        x = x.view(nt // self.n_segment, self.n_segment, c, h, w)
        fold = c // self.fold_div
        out = torch.zeros_like(x)
        out[:, :-1, :fold] = x[:, 1:, :fold]  # shift left
        out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]  # right
        out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
        return self.net(out.view(nt, c, h, w))


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock``."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision's ``resnet18`` layout (fc replaced by TSN's dropout)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        planes, inplanes = (64, 128, 256, 512), 64
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            layer = nn.Sequential(
                BasicBlock(inplanes, p, stride), BasicBlock(p, p)
            )
            setattr(self, f'layer{i + 1}', layer)
            inplanes = p
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Dropout(p=0.5)  # TSN._prepare_tsn with dropout > 0

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TSMRepoTSN(nn.Module):
    """The TSM repo's ``TSN(is_shift=True, shift_place=place)``."""

    def __init__(self, num_class, num_segments, shift=True, place='blockres'):
        super().__init__()
        self.num_segments = num_segments
        self.base_model = ResNet18()
        if shift:
            for i in range(1, 5):
                for j, block in enumerate(
                    getattr(self.base_model, f'layer{i}')
                ):
                    if place == 'blockres':
                        block.conv1 = RepoTemporalShift(
                            block.conv1, num_segments
                        )
                    else:  # 'block': the whole block wrapped
                        getattr(self.base_model, f'layer{i}')[j] = (
                            RepoTemporalShift(block, num_segments)
                        )
        self.new_fc = nn.Linear(512, num_class)

    def forward(self, x):
        """``x``: ``(N, T, 3, H, W)`` -> average of the frames' logits."""
        out = self.new_fc(self.base_model(x.view(-1, *x.shape[-3:])))
        return out.view(-1, self.num_segments, out.shape[-1]).mean(1)


def tsm_repo_checkpoint(model: TSMRepoTSN) -> dict:
    """What the TSM repo's ``main.py`` saves (``save_checkpoint``)."""
    state = nn.DataParallel(model).state_dict()
    return dict(epoch=45, arch='resnet18', state_dict=state, best_prec1=61.2)


def mmaction2_tsm(num_classes=5, frames=8):
    """mmaction2's own TSM (``ResNetTSM`` + ``TSMHead``), as its zoo
    configs build it."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    return MODELS.build(
        dict(
            type='Recognizer2D',
            backbone=dict(
                type='ResNetTSM',
                depth=18,
                num_segments=frames,
                pretrained2d=False,
                norm_eval=False,
            ),
            cls_head=dict(
                type='TSMHead',
                num_classes=num_classes,
                in_channels=512,
                num_segments=frames,
                average_clips='prob',
            ),
            data_preprocessor=dict(
                type='ActionDataPreprocessor',
                mean=[128] * 3,
                std=[64] * 3,
                format_shape='NCHW',
            ),
        )
    )


def zoo_checkpoint(model) -> dict:
    """A checkpoint as mmaction2 1.x's Runner writes it (its meta names
    mmaction2's config, not this plugin)."""
    return dict(
        meta=dict(
            mmengine_version='0.7.2',
            cfg="model = dict(type='Recognizer2D', backbone=dict("
            "type='ResNetTSM', depth=50))",
        ),
        state_dict=model.state_dict(),
    )


def to_torchvision(name: str) -> str:
    """Our key -> torchvision's, written out independently of the library."""
    parts = name.replace('.net.', '.').split('.')
    *prefix, module, kind, param = parts
    if module == 'downsample':
        new = ['downsample', '0' if kind == 'conv' else '1']
    else:
        new = [module if kind == 'conv' else module.replace('conv', 'bn')]
    return '.'.join(prefix + new + [param])


def copy_by_position(src: dict, dst_model) -> dict:
    """``src``'s tensors under ``dst_model``'s keys, paired by position.

    Both ResNets register their modules in the same order (stem, blocks
    conv1/bn1/conv2/bn2/downsample, classifier), so the i-th tensor of one
    is the i-th of the other; every shape is checked. Independent of the
    key mapping under test.
    """
    dst = dst_model.state_dict()
    skip = 'num_batches_tracked'
    src_items = [(k, v) for k, v in src.items() if not k.endswith(skip)]
    dst_keys = [k for k in dst if not k.endswith(skip)]
    assert len(src_items) == len(dst_keys)
    out = {}
    for (sk, v), dk in zip(src_items, dst_keys):
        assert v.shape == dst[dk].shape, (sk, dk)
        out[dk] = v.clone()
    return out
