"""Each fix in tsm_plugin.compat, proven needed and proven working.

The "stock" tests run a fresh interpreter that loads ``compat.py`` by path
(without importing ``tsm_plugin``, which applies every fix), so they see the
published stack as it is. Where the stack has been fixed upstream they skip:
the fix is then no longer needed.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
LOAD_COMPAT = textwrap.dedent(f"""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location(
        'compat', {str(REPO / 'tsm_plugin' / 'compat.py')!r})
    compat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compat)
""")


def run_py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', LOAD_COMPAT + code],
                          capture_output=True, text=True, timeout=120)


def test_drn_stub_makes_mmaction_models_importable():
    stock = run_py('import mmaction.models')
    if stock.returncode == 0:
        pytest.skip('this mmaction2 ships localizers/drn: no stub needed')
    assert "No module named 'mmaction.models.localizers.drn'" in stock.stderr

    fixed = run_py(textwrap.dedent("""
        assert compat.stub_missing_drn()
        import mmaction.models
        from mmaction.models.localizers import DRN
        try:
            DRN()
        except ImportError as e:
            assert '2714' in str(e)
        else:
            raise SystemExit('the stub DRN must refuse to build')
    """))
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

    fixed = run_py(block + textwrap.dedent("""
        assert compat.alias_importlib_metadata()
        from mmaction.utils.dependency import satisfy_requirement
        assert satisfy_requirement('mmengine>=0.1')
    """))
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
        meta=dict(epoch=1, iter=3, seed=np.int64(7),
                  dataset_meta=dict(classes=np.arange(3))),
        message_hub=hub.state_dict(),
        state_dict=dict(w=torch.ones(2)))
    torch.save(ckpt, path)


def test_checkpoint_allow_list(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    stock = run_py(f'import torch; torch.load({str(path)!r})')
    if stock.returncode == 0:
        pytest.skip('this torch does not load with weights_only=True')
    assert 'weights_only' in stock.stderr

    fixed = run_py(textwrap.dedent(f"""
        import torch
        assert compat.allow_checkpoint_globals()
        ckpt = torch.load({str(path)!r})   # weights_only=True, the default
        buf = ckpt['message_hub']['log_scalars']['train/loss']
        assert float(buf.current()) == 0.5
        assert int(ckpt['meta']['seed']) == 7
    """))
    assert fixed.returncode == 0, fixed.stderr


class Payload:
    """A checkpoint entry whose unpickling would write a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return Path.touch, (Path(self.target), )


def test_allow_list_keeps_weights_only_on(tmp_path):
    """Only the listed globals pass; anything else is still refused and its
    payload never runs."""
    import pickle

    import tsm_plugin  # noqa: F401  (applies the fixes)
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

    import tsm_plugin  # noqa: F401

    class Evil:
        def __reduce__(self):
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'evil.pth'
    torch.save(dict(x=Evil()), path)
    with pytest.raises(pickle.UnpicklingError, match='tofile'):
        torch.load(path)


def test_resnet_tsm_init_without_pretrained():
    import tsm_plugin  # noqa: F401
    from mmaction.models.backbones.resnet_tsm import ResNetTSM
    model = ResNetTSM(depth=18, num_segments=4, pretrained=None)
    model.init_weights()  # stock: crashes loading a None checkpoint
    x = torch.randn(4, 3, 32, 32)
    assert model(x).shape == (4, 512, 1, 1)

    stock = run_py(textwrap.dedent("""
        compat.stub_missing_drn(); compat.alias_importlib_metadata()
        from mmaction.models.backbones.resnet_tsm import ResNetTSM
        ResNetTSM(depth=18, num_segments=4, pretrained=None).init_weights()
    """))
    assert stock.returncode != 0  # the breakage the fix exists for
