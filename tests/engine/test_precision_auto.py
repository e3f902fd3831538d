"""precision='auto' by the hardware, with the hardware faked: CUDA compute
capability 6.1/7.0/7.5/8.0/9.0, CPUs with and without AMX, MPS; the one-line
log of the choice; explicit bf16 refused where it is only emulated."""

import logging

import pytest
import torch
from mmengine.logging import MMLogger

from tsm_plugin.engine import precision
from tsm_plugin.errors import InputError
from tsm_plugin.utils import device as device_utils


@pytest.fixture
def hardware(monkeypatch):
    """Fake the CUDA capability (None: no CUDA) and the CPU's AMX."""

    def fake(cuda=None, amx=False):
        monkeypatch.setattr(precision, 'cuda_capability', lambda *a: cuda)
        monkeypatch.setattr(precision, 'cpu_has_amx', lambda *a: amx)
        monkeypatch.setattr(torch.version, 'hip', None)

    return fake


@pytest.mark.parametrize(
    'device, cuda, amx, dtype, why',
    [
        ('cuda', (9, 0), False, torch.bfloat16, 'native bf16'),
        ('cuda:1', (8, 0), False, torch.bfloat16, 'native bf16'),
        ('cuda', (7, 5), False, torch.float16, 'bf16 only emulated'),
        ('cuda', (7, 0), True, torch.float16, 'fp16 tensor cores'),
        ('cuda', (6, 1), True, None, 'no tensor cores'),
        ('cpu', (9, 0), True, torch.bfloat16, 'AMX'),
        ('cpu', (9, 0), False, None, 'without AMX'),
        ('mps', (9, 0), True, None, 'mps'),
    ],
)
def test_auto_by_capability(hardware, device, cuda, amx, dtype, why):
    hardware(cuda=cuda, amx=amx)
    got, reason = precision.auto_precision(device)
    assert got is dtype
    assert why in reason
    if device.startswith('cuda'):
        assert f'compute capability {cuda[0]}.{cuda[1]}' in reason
    assert precision.resolve_dtype('auto', device) is dtype
    # channels_last follows: NHWC where 16-bit matrix units compute
    assert precision.resolve_channels_last('auto', device) is (
        dtype is not None
    )
    assert precision.has_fast_bf16(device.split(':')[0]) is (
        dtype is torch.bfloat16
    )


def test_bf16_refused_where_only_emulated(hardware):
    hardware(cuda=(7, 0))
    with pytest.raises(InputError, match='compute capability 7.0.*fp16'):
        precision.resolve_dtype('bf16', 'cuda')
    assert precision.resolve_dtype('fp16', 'cuda') is torch.float16
    hardware(cuda=(8, 6))
    assert precision.resolve_dtype('bf16', 'cuda') is torch.bfloat16


def test_is_bf16_supported_is_not_asked(hardware, monkeypatch):
    """Its default counts emulation: True on a V100."""
    hardware(cuda=(7, 0))
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert precision.resolve_dtype('auto', 'cuda') is torch.float16


def test_cuda_capability_without_cuda():
    if torch.cuda.is_available():
        pytest.skip('a CUDA machine')
    assert device_utils.cuda_capability() is None
    assert precision.auto_precision('cuda') == (None, 'CUDA is not available')


def test_the_choice_and_its_reason_in_one_log_line(hardware):
    from tsm_plugin.engine.optim_wrapper import AutocastOptimWrapper

    hardware(amx=False)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        net = torch.nn.Linear(2, 2)
        AutocastOptimWrapper(torch.optim.SGD(net.parameters(), lr=0.1))
        AutocastOptimWrapper(
            torch.optim.SGD(net.parameters(), lr=0.1), precision='fp16'
        )
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert lines == [
        "Precision: fp32 on cpu (precision='auto': CPU without AMX: bf16 "
        'is emulated, slower than fp32)',
        'Precision: fp16 with dynamic loss scaling on cpu '
        "(precision='fp16': as configured)",
    ]
