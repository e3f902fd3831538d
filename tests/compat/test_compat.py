"""Each fix in tsm_plugin.compat, proven needed and proven working.

The "stock" tests run a fresh interpreter that loads the fix modules by path
(without importing ``tsm_plugin``, which applies the import fixes), so they
see the published stack as it is; ``compat.<fix>()`` applies one fix there
through the package's own once-only rule (``apply_fix`` of
``compat/_once.py``, loaded by path too). Where the stack has been fixed
upstream they skip: the fix is then no longer needed.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import Payload

REPO = Path(__file__).resolve().parents[2]
LOAD_COMPAT = textwrap.dedent(f"""
    import importlib.util, sys, types

    def _load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    _folder = {str(REPO / 'tsm_plugin' / 'compat')!r}
    _once = _load('compat_once', _folder + '/_once.py')

    def _fix(module):
        fix = _load(module, f'{{_folder}}/{{module}}.py')
        return lambda: _once.apply_fix(fix)

    compat = types.SimpleNamespace(
        stub_missing_drn=_fix('mmaction_drn'),
        alias_importlib_metadata=_fix('importlib_metadata_alias'),
        allow_checkpoint_globals=_fix('checkpoint_globals'),
        fix_resnet_tsm_init=_fix('resnet_tsm_init'),
        fix_cpu_dist_init=_fix('dist_cpu_init'),
        fix_cpu_ddp_device_ids=_fix('ddp_cpu_device_ids'),
        fix_runner_timestamp=_fix('runner_timestamp'))
""")


def run_py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c', LOAD_COMPAT + code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_drn_stub_makes_mmaction_models_importable():
    stock = run_py('import mmaction.models')
    if stock.returncode == 0:
        pytest.skip('this mmaction2 ships localizers/drn: no stub needed')
    assert "No module named 'mmaction.models.localizers.drn'" in stock.stderr

    fixed = run_py(
        textwrap.dedent("""
        assert compat.stub_missing_drn()
        import mmaction.models
        from mmaction.models.localizers import DRN
        try:
            DRN()
        except ImportError as e:
            assert '2714' in str(e)
        else:
            raise SystemExit('the stub DRN must refuse to build')
    """)
    )
    assert fixed.returncode == 0, fixed.stderr


def test_importlib_metadata_alias():
    block = textwrap.dedent("""
        import importlib.abc
        class Block(importlib.abc.MetaPathFinder):  # as if not installed
            def find_spec(self, name, path=None, target=None):
                if name == 'importlib_metadata':
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Block())
    """)
    stock = run_py(block + 'import mmaction.utils.dependency')
    assert stock.returncode != 0
    assert 'importlib_metadata' in stock.stderr

    fixed = run_py(
        block
        + textwrap.dedent("""
        assert compat.alias_importlib_metadata()
        from mmaction.utils.dependency import satisfy_requirement
        assert satisfy_requirement('mmengine>=0.1')
    """)
    )
    assert fixed.returncode == 0, fixed.stderr


def _mmengine_like_checkpoint(path):
    """What mmengine 0.10.7 saves beside the weights: HistoryBuffers holding
    numpy arrays in message_hub, numpy scalars in meta."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance('test_compat_ckpt')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/lr', 0.01)
    hub.update_info('iter', 3)
    ckpt = dict(
        meta=dict(
            epoch=1,
            iter=3,
            seed=np.int64(7),
            dataset_meta=dict(classes=np.arange(3)),
        ),
        message_hub=hub.state_dict(),
        state_dict=dict(w=torch.ones(2)),
    )
    torch.save(ckpt, path)


def test_checkpoint_allow_list(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    stock = run_py(f'import torch; torch.load({str(path)!r})')
    if stock.returncode == 0:
        pytest.skip('this torch does not load with weights_only=True')
    assert 'weights_only' in stock.stderr

    fixed = run_py(
        textwrap.dedent(f"""
        import torch
        assert compat.allow_checkpoint_globals()
        ckpt = torch.load({str(path)!r})   # weights_only=True, the default
        buf = ckpt['message_hub']['log_scalars']['train/loss']
        assert float(buf.current()) == 0.5
        assert int(ckpt['meta']['seed']) == 7
    """)
    )
    assert fixed.returncode == 0, fixed.stderr


def test_allow_list_keeps_weights_only_on(tmp_path):
    """Only the listed globals pass; anything else is still refused and its
    payload never runs."""
    import pickle

    import tsm_plugin.registration  # noqa: F401

    target = tmp_path / 'pwned'
    path = tmp_path / 'other.pth'
    torch.save(dict(state_dict={}, obj=Payload(target)), path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        torch.load(path)
    assert not target.exists()


def test_allow_list_getattr_reaches_only_history_buffer_methods(tmp_path):
    """mmengine pickles HistoryBuffer methods via getattr; our getattr must
    not open any other attribute (e.g. ndarray.tofile writes files)."""
    import pickle

    import tsm_plugin.registration  # noqa: F401

    class Evil:
        def __reduce__(self):
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'evil.pth'
    torch.save(dict(x=Evil()), path)
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        torch.load(path)


def test_resnet_tsm_init_without_pretrained():
    from mmaction.models.backbones.resnet_tsm import ResNetTSM

    import tsm_plugin.registration  # noqa: F401

    model = ResNetTSM(depth=18, num_segments=4, pretrained=None)
    model.init_weights()  # stock: crashes loading a None checkpoint
    x = torch.randn(4, 3, 32, 32)
    assert model(x).shape == (4, 512, 1, 1)

    stock = run_py(
        textwrap.dedent("""
        compat.stub_missing_drn(); compat.alias_importlib_metadata()
        from mmaction.models.backbones.resnet_tsm import ResNetTSM
        ResNetTSM(depth=18, num_segments=4, pretrained=None).init_weights()
    """)
    )
    assert stock.returncode != 0  # the breakage the fix exists for


no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path is taken only without CUDA'
)


# --------------------------------------------------------------------------
# dist_cpu_init, ddp_cpu_device_ids
# --------------------------------------------------------------------------
ONE_RANK_WORLD = textwrap.dedent("""
    import os, socket
    s = socket.socket(); s.bind(('127.0.0.1', 0))
    os.environ.update(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                      MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(s.getsockname()[1]))
    s.close()
    import torch
    from mmengine.dist import init_dist
""")


@no_cuda
def test_stock_launcher_fails_without_cuda():
    stock = run_py(ONE_RANK_WORLD + "init_dist('pytorch', backend='nccl')")
    if stock.returncode == 0:
        pytest.skip('this mmengine starts without CUDA: no fix needed')
    assert 'cuda' in stock.stderr.lower(), stock.stderr


@no_cuda
def test_cpu_launcher_uses_gloo_and_ddp_wraps_cpu_model():
    fixed = run_py(
        ONE_RANK_WORLD
        + textwrap.dedent("""
        assert compat.fix_cpu_dist_init()
        assert not compat.fix_cpu_dist_init()  # idempotent
        init_dist('pytorch', backend='nccl')  # the config's backend
        assert torch.distributed.get_backend() == 'gloo'
        assert torch.cuda.set_device.__name__ == 'set_device'

        from mmengine.model import MMDistributedDataParallel as DDP
        try:  # what Runner.wrap_model passes
            DDP(module=torch.nn.Linear(3, 1), device_ids=[0])
        except ValueError as e:
            assert 'device_ids' in str(e)
        else:
            raise SystemExit('stock DDP took device_ids on CPU: drop the fix')
        assert compat.fix_cpu_ddp_device_ids()
        assert not compat.fix_cpu_ddp_device_ids()
        model = DDP(module=torch.nn.Linear(3, 1), device_ids=[0])
        model(torch.ones(2, 3)).sum().backward()
        assert model.module.weight.grad.tolist() == [[2.0, 2.0, 2.0]]
    """)
    )
    assert fixed.returncode == 0, fixed.stderr


# --------------------------------------------------------------------------
# runner_timestamp
# --------------------------------------------------------------------------
TWO_RUNNERS_IN_ONE_SECOND = textwrap.dedent("""
    import glob, os, sys, time
    import torch
    from mmengine.runner import Runner
    time.time = lambda: 1.7e9  # both Runners start in the same second
    work = sys.argv[1]
    def build(name):
        runner = Runner(model=torch.nn.Linear(1, 1), default_scope='mmengine',
                        work_dir=os.path.join(work, name))
        runner.logger.info(f'line of run {name}')
        return runner
    a, b = build('a'), build('b')
    for name in 'ab':
        logs = glob.glob(os.path.join(work, name, '*', '*.log'))
        text = ''.join(open(f).read() for f in logs)
        print(name, len(logs), text.count('line of run a'),
              text.count('line of run b'))
    print('one logger', a.logger is b.logger)
""")


def run_two_runners(tmp_path, fix: bool) -> str:
    code = ('compat.fix_runner_timestamp()\n' if fix else '') + (
        TWO_RUNNERS_IN_ONE_SECOND
    )
    done = subprocess.run(
        [sys.executable, '-c', LOAD_COMPAT + code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-3:]


def test_stock_second_runner_in_a_second_logs_into_the_first(tmp_path):
    stock = run_two_runners(tmp_path, fix=False)
    if stock[-1] == 'one logger False':
        pytest.skip('this mmengine separates Runners of one second')
    # run b's line lands in run a's file; b's log directory has no log
    assert stock == ['a 1 1 1', 'b 0 0 0', 'one logger True']


def test_each_runner_of_a_second_gets_its_own_log(tmp_path):
    fixed = run_two_runners(tmp_path, fix=True)
    assert fixed == ['a 1 1 0', 'b 1 0 1', 'one logger False']
