"""FFN backbone: a TSM-ResNet whose BatchNorms and adapters are per branch.

`Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ (FFN, CVPR
2023) trains one TSM (https://arxiv.org/abs/1811.08383) at several frame
counts at once (4, 8 and 16 frames: the L, M and H branches). The branches
share every convolution ("Weight Sharing", Sec. 4.2); each has its own
BatchNorms ("specialized normalization", Eq. 6) and, at the input of every
residual block after the temporal shift, its own depthwise 1x1 conv with a
residual add, ``y = s + adapter(s)`` ("Weight Alteration", Eq. 7-9).

At test time a clip of ``K`` frames runs the branch whose frame count is
nearest to ``K``, ties to the larger count (:func:`nearest_branch`), with
the shift over ``K`` frames.
"""

import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from ..errors import ConfigValueError, InputError
from .checkpoint_formats import read_state_dict
from .ffn_block import Chunk, FFNBlock, branch_bns, chunked_norm
from .frame_counts import (
    NumSegments,
    check_frame_counts,
    nearest_branch,
)
from .tsm_resnet import torchvision_name

# depth -> (block kind, blocks per stage)
ARCH_SETTINGS = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', (3, 8, 36, 3)),
}
TRAIN_SHIFTS = ('branch', 'official')
ADAPTER_INITS = ('zeros', 'official', 'as_written')

# Our key -> the single-branch (torchvision) key: drop the branch index of
# a BatchNorm list, then torchvision's downsample numbering.
_TO_SINGLE = (
    (re.compile(r'(^|\.)(bn\d?)\.\d+\.'), r'\1\2.'),
    (re.compile(r'downsample\.conv\.'), 'downsample.0.'),
    (re.compile(r'downsample\.bn\.'), 'downsample.1.'),
)


def single_branch_name(name: str) -> Optional[str]:
    """The torchvision ResNet key of an FFNResNet key; None for adapters.

    ``layer1.0.bn2.1.weight`` -> ``layer1.0.bn2.weight``,
    ``layer2.0.downsample.bn.2.bias`` -> ``layer2.0.downsample.1.bias``,
    ``layer1.0.adapter.0.weight`` -> None (no single-branch counterpart).
    """
    if '.adapter.' in name:
        return None
    for pattern, repl in _TO_SINGLE:
        name = pattern.sub(repl, name)
    return name


@MODELS.register_module()
class FFNResNet(NumSegments, BaseModule):
    """TSM-ResNet with shared convolutions and per-frame-count norms.

    `Frame Flexible Network <https://arxiv.org/abs/2303.14817>`_ on the
    "blockres" TSM-ResNet of :class:`~tsm_plugin.models.tsm_resnet.
    TSMResNet`: every block shifts its residual input (a network whose third
    stage has >= 23 blocks, ResNet-101/152, every other block, as TSM and
    TSMResNet do; the official FFN code shifts every block), then applies
    the branch's adapter, then the shared convs with the branch's BNs. The
    stem conv is registered first, so mmaction2's
    ``TSMOptimWrapperConstructor`` treats it as the first conv.

    ``num_segments`` is the test-time frame count ``K`` (what the TFD sweep
    sets on every module that has one): a forward without arguments runs
    branch :func:`nearest_branch` (``K``) with the shift over ``K`` frames.

    Args:
        depth (int): 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        frame_counts (Sequence[int]): The branches' frame counts; branch
            ``i`` trains on ``frame_counts[i]`` frames. Defaults to
            (4, 8, 16), the paper's L/M/H.
        num_segments (int, optional): Test-time frame count ``K``. Defaults
            to ``max(frame_counts)``, the count FFN validates at.
        shift_div (int): ``C // shift_div`` channels shift each way.
            Defaults to 8.
        train_shift (str): Frames per clip of the shift in training mode.
            'branch' (default, the paper's form): each branch shifts over
            its own frame count. 'official': every branch shifts over
            ``max(frame_counts)`` frames, as the official code does
            (BeSpontaneous/FFN-pytorch#3, "an unintentional mistake"): the
            4- and 8-frame batches are then viewed as 16-frame sequences, so
            neighbouring clips leak into each other and the clips per batch
            times each count must be divisible by the largest count.
        adapter_init (str): Initial adapter weights. 'zeros' (default): the
            adapters start as exact identities, so every branch starts
            exactly as the single-branch network it is loaded from (ImageNet
            or a trained TSM). 'official': Kaiming normal, fan_out (std
            ``sqrt(2 / C)``), what the official code effectively runs
            because its global conv init overwrites the written one.
            'as_written': N(0, 1e-3), the init the official code writes.
        shared_bn (bool): One set of BatchNorms for all branches (the
            paper's "w/o SN" ablation). Defaults to False.
        adapters (bool): Hold the Weight-Alteration adapters (False: "w/o
            WA"). Defaults to True.
        pretrained (str, optional): A local torchvision ResNet ``.pth`` or
            ``'torchvision://resnet50'``: after the scratch init its convs
            load into the shared convs and every BN into all branches (the
            official code's ImageNet start). Defaults to None.
        norm_eval (bool): Keep every BatchNorm in eval mode during training
            (frozen running statistics). Defaults to False.
        branch_stages (int): How many residual stages :meth:`forward_chunks`
            (the training step) runs branch by branch, after the stem, before
            it runs the branches together; the result is the same either
            way. Defaults to 3: the fastest at the recipe's 224 px (on a
            CPU; 2 at 112 px; README, FFN: Cost).
    """

    def __init__(
        self,
        depth: int,
        frame_counts: Sequence[int] = (4, 8, 16),
        num_segments: Optional[int] = None,
        shift_div: int = 8,
        train_shift: str = 'branch',
        adapter_init: str = 'zeros',
        shared_bn: bool = False,
        adapters: bool = True,
        pretrained: Optional[str] = None,
        norm_eval: bool = False,
        branch_stages: int = 3,
    ) -> None:
        super().__init__()
        if depth not in ARCH_SETTINGS:
            raise ConfigValueError(
                f'FFNResNet depth must be one of '
                f'{sorted(ARCH_SETTINGS)}, got {depth!r}'
            )
        for name, value, allowed in (
            ('train_shift', train_shift, TRAIN_SHIFTS),
            ('adapter_init', adapter_init, ADAPTER_INITS),
        ):
            if value not in allowed:
                raise ConfigValueError(
                    f'FFNResNet {name} must be one of {allowed}, got {value!r}'
                )
        if (
            isinstance(shift_div, bool)
            or not isinstance(shift_div, int)
            or shift_div < 1
        ):
            raise ConfigValueError(
                f'shift_div must be an integer >= 1, got {shift_div!r}'
            )
        if (
            isinstance(branch_stages, bool)
            or not isinstance(branch_stages, int)
            or not 0 <= branch_stages <= 4
        ):
            raise ConfigValueError(
                f'FFNResNet branch_stages must be an integer from 0 to 4, '
                f'got {branch_stages!r}'
            )
        self.depth = depth
        self.branch_stages = branch_stages
        self.frame_counts = check_frame_counts(frame_counts)
        self.shift_div = shift_div
        self.train_shift = train_shift
        self.adapter_init = adapter_init
        self.shared_bn = shared_bn
        self.pretrained = pretrained
        self.norm_eval = norm_eval
        branches = len(self.frame_counts)
        norms = 1 if shared_bn else branches

        kind, stage_blocks = ARCH_SETTINGS[depth]
        every = 2 if stage_blocks[2] >= 23 else 1
        # the stem conv first: the optimizer constructor's "first conv"
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = branch_bns(64, norms)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.res_layers = []
        inplanes = 64
        for stage, blocks in enumerate(stage_blocks):
            planes = 64 * 2**stage
            layer = nn.ModuleList()
            for i in range(blocks):
                layer.append(
                    FFNBlock(
                        kind,
                        inplanes,
                        planes,
                        2 if stage and not i else 1,
                        branches,
                        norms,
                        adapters,
                        shift=i % every == 0,
                    )
                )
                inplanes = planes * (1 if kind == 'basic' else 4)
            name = f'layer{stage + 1}'
            self.add_module(name, layer)
            self.res_layers.append(name)
        self.feat_dim = inplanes
        self.num_segments = (
            max(self.frame_counts) if num_segments is None else num_segments
        )

    @property
    def test_branch(self) -> int:
        """The branch index that ``num_segments`` routes to."""
        return nearest_branch(self._num_segments, self.frame_counts)

    def forward(
        self,
        x: torch.Tensor,
        branch: Optional[int] = None,
        num_segments: Optional[int] = None,
    ) -> torch.Tensor:
        """Run one branch on ``(N * T, C, H, W)`` frames, clip by clip.

        Args:
            x (torch.Tensor): The frames.
            branch (int, optional): Branch index into ``frame_counts``.
                Defaults to the branch ``num_segments`` routes to.
            num_segments (int, optional): ``T``, frames per clip. Defaults
                to ``frame_counts[branch]`` when ``branch`` is given, else
                to the ``num_segments`` attribute. In training mode with
                ``train_shift='official'`` the shift runs over
                ``max(frame_counts)`` frames whatever ``T`` is.

        Returns:
            torch.Tensor: The last stage's features, ``(N * T, C', h, w)``.

        Raises:
            ValueError: if the frames do not split into clips of the shift's
                length, or ``branch`` is out of range.
        """
        if branch is None:
            if num_segments is None:
                num_segments = self._num_segments
            branch = nearest_branch(num_segments, self.frame_counts)
        elif not 0 <= branch < len(self.frame_counts):
            raise ValueError(
                f'FFNResNet: branch {branch} out of range for '
                f'frame_counts {self.frame_counts}'
            )
        elif num_segments is None:
            num_segments = self.frame_counts[branch]
        chunk = self.chunk(branch, int(x.shape[0]), num_segments)
        return self.forward_chunks((x,), (chunk,))[0]

    def chunk(self, branch: int, frames: int, num_segments: int) -> Chunk:
        """The :class:`Chunk` of ``frames`` frames run by ``branch``.

        Args:
            branch (int): Branch index into ``frame_counts``.
            frames (int): ``N * num_segments``.
            num_segments (int): Frames per clip. In training mode with
                ``train_shift='official'`` the shift runs over
                ``max(frame_counts)`` frames instead.

        Raises:
            ValueError: if the frames do not split into clips of the
                shift's length.
        """
        segments = num_segments
        if self.training and self.train_shift == 'official':
            segments = max(self.frame_counts)
        if frames % segments:
            raise ValueError(
                f'FFNResNet: the batch of {frames} frames is not '
                f"divisible by the shift's {segments} frames per clip"
            )
        return Chunk(frames, branch, 0 if self.shared_bn else branch, segments)

    def forward_chunks(
        self, xs: Sequence[torch.Tensor], chunks: Sequence[Chunk]
    ) -> Tuple[torch.Tensor, ...]:
        """Run several branches, each on its own frames (FFN's training
        step: 16 | 8 | 4 frames of every clip).

        The stem and the first ``branch_stages`` stages run branch by
        branch: their feature maps are the largest, one branch's frames
        already make large GEMMs, and each adapter folds into the conv
        after it. The later stages run all the frames at once: on their
        small maps one large GEMM beats three small ones, and the
        per-branch BatchNorms run on slices. Either way each chunk has its
        own BatchNorms, adapters and shift, so the result equals running
        the branches one by one.

        Args:
            xs (Sequence[torch.Tensor]): Each chunk's ``(frames, C, H, W)``.
            chunks (Sequence[Chunk]): From :meth:`chunk`, one per tensor.

        Returns:
            tuple[torch.Tensor]: The last stage's features, one per chunk.
        """
        split = self.res_layers[: self.branch_stages]
        joint = self.res_layers[self.branch_stages :]
        feats = []
        for x, chunk in zip(xs, chunks, strict=True):
            x = chunked_norm(self.bn1, self.conv1(x), (chunk,))
            x = self.maxpool(F.relu(x, inplace=True))
            feats.append(self._run_stages(split, x, (chunk,)))
        if not joint:
            return tuple(feats)
        x = feats[0] if len(feats) == 1 else torch.cat(feats)
        x = self._run_stages(joint, x, chunks)
        return x.split([chunk.frames for chunk in chunks])

    def _run_stages(
        self, names: Sequence[str], x: torch.Tensor, chunks: Sequence[Chunk]
    ) -> torch.Tensor:
        for name in names:
            for block in getattr(self, name):
                x = block(x, chunks, self.shift_div)
        return x

    def train(self, mode: bool = True) -> 'FFNResNet':
        """Set train/eval mode; ``norm_eval`` keeps every BN in eval."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def init_weights(self) -> None:
        """Scratch init, adapters by ``adapter_init``, then ``pretrained``.

        Scratch init as mmaction2's ResNet: Kaiming normal (fan_out) convs,
        BN weight 1 and bias 0.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu'
                )
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for name in self.res_layers:
            for block in getattr(self, name):
                for adapter in block.adapter or ():
                    self._init_adapter(adapter.weight)
        if self.pretrained:
            self._load_pretrained(MMLogger.get_current_instance())
        self._is_init = True

    @torch.no_grad()
    def _init_adapter(self, weight: torch.Tensor) -> None:
        if self.adapter_init == 'zeros':
            weight.zero_()
        elif self.adapter_init == 'as_written':
            weight.normal_(0, 1e-3)
        else:
            nn.init.kaiming_normal_(
                weight, mode='fan_out', nonlinearity='relu'
            )

    def load_single_branch(
        self, state_dict: Dict[str, torch.Tensor], prefix: str = ''
    ) -> Tuple[List[str], List[str]]:
        """Load a single-branch ResNet into every branch.

        Accepts a torchvision ResNet state dict or a :class:`TSMResNet` /
        mmaction2 ``ResNetTSM`` one (keys are compared through
        :func:`~tsm_plugin.models.tsm_resnet.torchvision_name`). Each conv
        loads into the shared conv, each BN (affine and running statistics)
        into every branch's BN; adapters keep their values.

        Args:
            state_dict (dict): The source tensors.
            prefix (str): Only keys starting with it are used, without it
                (e.g. ``'backbone.'`` for a recognizer checkpoint).

        Returns:
            tuple[list[str], list[str]]: Our keys not found (adapters and
            ``num_batches_tracked`` excluded), and source keys not used.

        Raises:
            ValueError: if a matched tensor has another shape.
        """
        source = {
            torchvision_name(k[len(prefix) :]): k
            for k in state_dict
            if k.startswith(prefix)
        }
        used, missing, state = set(), [], {}
        for name, tensor in self.state_dict().items():
            key = single_branch_name(name)
            if key is None:
                continue
            if key not in source:
                if not name.endswith('num_batches_tracked'):
                    missing.append(name)
                continue
            value = state_dict[source[key]]
            if value.shape != tensor.shape:
                raise ValueError(
                    f'FFNResNet: {source[key]} has shape '
                    f'{tuple(value.shape)}, {name} needs '
                    f'{tuple(tensor.shape)}'
                )
            state[name] = value
            used.add(key)
        self.load_state_dict(state, strict=False)
        return missing, sorted(source[k] for k in set(source) - used)

    def _load_pretrained(self, logger: MMLogger) -> None:
        path = self.pretrained
        checkpoint = read_state_dict(path)
        try:
            missing, unused = self.load_single_branch(checkpoint)
        except ValueError as err:
            raise InputError(f'pretrained checkpoint {path}: {err}') from None
        logger.info(
            f'FFNResNet: loaded {path} into {len(self.frame_counts)} branches'
        )
        if missing:
            logger.warning(
                f'FFNResNet: missing in {path} (kept scratch '
                f'init): {", ".join(missing)}'
            )
        if unused:
            logger.info(
                f'FFNResNet: unused keys of {path}: {", ".join(unused)}'
            )
