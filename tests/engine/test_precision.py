"""Precision and memory format: detection, the optim wrapper, the data
preprocessor and the eval hook (a real Runner)."""

import copy
import logging

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.engine import _toy
from tests.helpers import one_thread_fixture, tsm_recognizer
from tsm_plugin.engine import precision
from tsm_plugin.engine.data_preprocessor import (
    ChannelsLastActionDataPreprocessor,
    to_channels_last,
)
from tsm_plugin.engine.hooks import eval_autocast_hook  # noqa: F401
from tsm_plugin.engine.optim_wrapper import AutocastOptimWrapper
from tsm_plugin.engine.precision import scores_to_float32
from tsm_plugin.errors import InputError

# Tiny convolutions (and bf16 emulated where the CPU has no AMX): a second
# torch thread only waits.
one_thread = one_thread_fixture('module')


@pytest.fixture
def amx(monkeypatch):
    """Pretend the CPU does (True) or does not (False) have AMX."""

    def set_amx(value):
        monkeypatch.setattr(precision, 'cpu_has_amx', lambda *a: value)

    return set_amx


# ----------------------------------------------------------- detection --
def test_cpu_has_amx_reads_the_flags(tmp_path):
    with_amx = tmp_path / 'amx'
    with_amx.write_text(
        'processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n'
    )
    without = tmp_path / 'no_amx'
    without.write_text('processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n')
    assert precision.cpu_has_amx(str(with_amx)) is True
    # avx512_bf16 alone (Cooper Lake) is not AMX
    assert precision.cpu_has_amx(str(without)) is False
    assert precision.cpu_has_amx(str(tmp_path / 'missing')) is False


def test_auto_is_bf16_only_where_fast(amx):
    amx(True)
    assert precision.resolve_dtype('auto', 'cpu') is torch.bfloat16
    assert precision.resolve_channels_last('auto', 'cpu') is True
    amx(False)
    assert precision.resolve_dtype('auto', 'cpu') is None
    assert precision.resolve_channels_last('auto', 'cpu') is False
    # MPS and other devices: fp32
    assert precision.resolve_dtype('auto', 'mps') is None
    assert precision.resolve_channels_last('auto', 'mps') is False


def test_explicit_precisions_and_errors():
    assert precision.resolve_dtype('fp32', 'cpu') is None
    assert precision.resolve_dtype('bf16', 'cpu') is torch.bfloat16
    assert precision.resolve_dtype('fp16', 'cpu') is torch.float16
    assert precision.resolve_channels_last(True, 'cpu') is True
    with pytest.raises(InputError, match="'fp64'"):
        precision.resolve_dtype('fp64', 'cpu')
    with pytest.raises(InputError, match="'yes'"):
        precision.resolve_channels_last('yes', 'cpu')


# -------------------------------------------------------- optim wrapper --
class _Net(BaseModel):
    """A conv + fc recording the dtype its conv computed in."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)
        self.seen = []

    def forward(self, inputs, labels=None, data_samples=None, mode='tensor'):
        x = self.conv(inputs)
        self.seen.append(x.dtype)
        logits = self.fc(x.mean((2, 3)))
        if mode == 'loss':
            return dict(
                loss=torch.nn.functional.cross_entropy(logits.float(), labels)
            )
        if mode == 'predict':
            return [
                BaseDataElement(pred_score=logits.softmax(1)[i])
                for i in range(len(logits))
            ]
        return logits


def _data():
    g = torch.Generator().manual_seed(1)
    return dict(
        inputs=torch.randn(4, 3, 8, 8, generator=g),
        labels=torch.tensor([0, 1, 1, 0]),
    )


def _wrapper(net, **kwargs):
    from mmengine.optim import build_optim_wrapper

    cfg = dict(
        type='AutocastOptimWrapper',
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
        **kwargs,
    )
    return build_optim_wrapper(net, cfg)


def test_wrapper_builds_from_config_and_autocasts_bf16():
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    net = _Net()
    wrapper = _wrapper(net, precision='bf16')
    assert isinstance(wrapper, AutocastOptimWrapper)
    assert wrapper.dtype is torch.bfloat16 and wrapper.loss_scaler is None
    before = net.conv.weight.detach().clone()
    net.train_step(_data(), wrapper)
    assert net.seen == [torch.bfloat16]
    # master weights and their update stay fp32
    assert net.conv.weight.dtype is torch.float32
    assert not torch.equal(net.conv.weight, before)


def test_wrapper_fp32_equals_plain_optim_wrapper():
    from mmengine.optim import OptimWrapper

    a, b = _Net(), _Net()
    ours = _wrapper(a, precision='fp32', clip_grad=dict(max_norm=1.0))
    plain = OptimWrapper(
        torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9),
        clip_grad=dict(max_norm=1.0),
    )
    for _ in range(2):
        a.train_step(_data(), ours)
        b.train_step(_data(), plain)
    assert a.seen == [torch.float32] * 2
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_wrapper_fp16_scales_and_round_trips_its_state():
    net = _Net()
    wrapper = _wrapper(net, precision='fp16', loss_scale=256.0)
    assert wrapper.loss_scaler.get_scale() == 256.0
    net.train_step(_data(), wrapper)
    assert net.seen == [torch.float16]
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 256.0
    other = _wrapper(_Net(), precision='fp16')
    other.load_state_dict(copy.deepcopy(state))
    assert other.loss_scaler.get_scale() == 256.0
    # a bf16/fp32 wrapper resumes from it too (the scaler state is dropped)
    _wrapper(_Net(), precision='fp32').load_state_dict(copy.deepcopy(state))


# ---------------------------------------------------- data preprocessor --
def _preprocessors(channels_last):
    kwargs = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW',
    )
    from mmaction.models.data_preprocessors import ActionDataPreprocessor

    return (
        ChannelsLastActionDataPreprocessor(
            channels_last=channels_last, **kwargs
        ),
        ActionDataPreprocessor(**kwargs),
    )


def _clips():
    g = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 256, (4, 3, 6, 5), generator=g, dtype=torch.uint8)
        for _ in range(2)
    ]


@pytest.mark.parametrize('channels_last', [True, False])
def test_preprocessor_values_equal_stock_layout_as_asked(channels_last):
    ours, stock = _preprocessors(channels_last)
    out = ours(dict(inputs=_clips(), data_samples=None))['inputs']
    ref = stock(dict(inputs=_clips(), data_samples=None))['inputs']
    assert out.shape == ref.shape == (2, 4, 3, 6, 5)
    assert torch.equal(out, ref)
    frames = out.view(-1, 3, 6, 5)  # what Recognizer2D feeds the backbone
    assert (
        frames.is_contiguous(memory_format=torch.channels_last)
        is channels_last
    )
    assert frames.is_contiguous() is not channels_last


def test_preprocessor_auto_follows_the_hardware(amx):
    amx(False)
    ours, _ = _preprocessors('auto')
    out = ours(dict(inputs=_clips(), data_samples=None))['inputs']
    assert out.is_contiguous()
    amx(True)
    out = ours(dict(inputs=_clips(), data_samples=None))['inputs']
    assert out.view(-1, 3, 6, 5).is_contiguous(
        memory_format=torch.channels_last
    )


def test_to_channels_last_is_a_no_op_when_already_there():
    x = to_channels_last(torch.randn(2, 4, 3, 6, 5))
    assert to_channels_last(x).data_ptr() == x.data_ptr()


# ------------------------------------------------------------ eval hook --
def _runner(tmp_path, wrapper_cfg, hook_cfg=None):
    from mmengine.evaluator import BaseMetric, Evaluator
    from mmengine.runner import Runner

    class _ScoreDtypes(BaseMetric):
        default_prefix = 'dtypes'

        def process(self, data_batch, data_samples):
            self.results.extend(s['pred_score'].dtype for s in data_samples)

        def compute_metrics(self, results):
            assert all(d is torch.float32 for d in results), results
            return dict(n=len(results))

    return Runner(
        model=_Net(),
        work_dir=str(tmp_path),
        train_dataloader=_toy.image_loader(4),
        val_dataloader=_toy.image_loader(4),
        test_dataloader=_toy.image_loader(4),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        val_cfg=dict(),
        test_cfg=dict(),
        val_evaluator=Evaluator(_ScoreDtypes()),
        test_evaluator=Evaluator(_ScoreDtypes()),
        optim_wrapper=wrapper_cfg,
        custom_hooks=[hook_cfg or dict(type='EvalAutocastHook')],
        default_hooks=dict(checkpoint=None, logger=None),
        default_scope='mmaction',
        log_level=logging.WARNING,
    )


#: The optim wrapper of a bf16 run.
BF16_WRAPPER = dict(
    type='AutocastOptimWrapper',
    precision='bf16',
    optimizer=dict(type='SGD', lr=0.01),
)


def test_hook_evaluates_in_the_training_precision(tmp_path):
    runner = _runner(tmp_path, BF16_WRAPPER)
    runner.train()
    net = runner.model
    # 2 training iterations, then 2 validation ones: all bf16; the metric
    # (asserting inside) got fp32 scores.
    assert net.seen == [torch.bfloat16] * 4


def test_hook_tests_in_fp32_unless_told(tmp_path):
    """A bf16-trained config is tested in fp32 (the same numbers on every
    machine); an explicit precision applies to tests too."""
    runner = _runner(tmp_path, BF16_WRAPPER)
    runner.test()
    assert runner.model.seen == [torch.float32] * 2
    assert runner.message_hub.get_info('test/precision') == 'fp32'


def test_hook_leaves_fp32_training_alone(tmp_path):
    runner = _runner(
        tmp_path,
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
    )
    runner.train()
    assert runner.model.seen == [torch.float32] * 4
    # an explicit precision wins over the optim wrapper
    runner = _runner(
        tmp_path / 'b',
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
        dict(type='EvalAutocastHook', precision='bf16'),
    )
    runner.test()
    assert runner.model.seen == [torch.bfloat16] * 2


def test_scores_to_float32_casts_nested_outputs():
    sample = BaseDataElement(pred_score=torch.ones(3, dtype=torch.bfloat16))
    out = scores_to_float32([sample, (torch.zeros(2, dtype=torch.float16),)])
    assert out[0].pred_score.dtype is torch.float32
    assert out[1][0].dtype is torch.float32
    assert torch.equal(out[0].pred_score, torch.ones(3))


def test_tsm_recognizer_trains_and_predicts_in_bf16():
    """mmaction2's head hands bf16 scores to numpy (top_k_accuracy, which
    cannot read bf16) unless its output is fp32."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from tsm_plugin.testing.demo_inputs import fake_batch

    init_default_scope('mmaction')
    model = MODELS.build(
        dict(
            tsm_recognizer(depth=18, frames=4, average_clips='prob'),
            data_preprocessor=dict(
                type='ChannelsLastActionDataPreprocessor',
                channels_last=True,
                mean=[128] * 3,
                std=[64] * 3,
                format_shape='NCHW',
            ),
        )
    )
    wrapper = _wrapper(model, precision='bf16')
    batch = fake_batch(2, 4, 32, num_classes=5)
    losses = model.train_step(
        dict(batch, inputs=list(batch['inputs'])), wrapper
    )
    assert losses['loss'].dtype is torch.float32
    model.eval()
    with torch.no_grad(), precision.autocast('cpu', torch.bfloat16):
        out = model.test_step(dict(batch, inputs=list(batch['inputs'])))
    assert out[0].pred_score.dtype is torch.float32
    assert torch.allclose(
        out[0].pred_score.sum(), torch.tensor(1.0), atol=1e-2
    )
