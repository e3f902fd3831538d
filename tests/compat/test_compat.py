"""Each fix in tsm_plugin.compat, proven needed and proven working.

The stock failures are shown in ONE fresh interpreter (the ``probes``
fixture), which loads the fix modules by path (without importing
``tsm_plugin``, which applies the import fixes), so it sees the published
stack as it is. For each fix in turn it runs the stock code, applies the fix
there (``compat.<fix>()``, through the package's own once-only rule,
``apply_fix`` of ``compat/_once.py``, loaded by path too) and runs the fixed
code, and reports each of these probes apart: one start-up of torch and
mmaction instead of one per probe. The order is the one the fixes need
(mmaction imports first; the process group last). Where the stack has been
fixed upstream the tests skip: the fix is then no longer needed.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from tests.helpers import REPO, Payload

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
        find_packages=_fix('package_paths'),
        load_scoped_configs=_fix('scoped_config_paths'),
        allow_checkpoint_globals=_fix('checkpoint_globals'),
        fix_resnet_tsm_init=_fix('resnet_tsm_init'),
        fix_cpu_dist_init=_fix('dist_cpu_init'),
        fix_cpu_ddp_device_ids=_fix('ddp_cpu_device_ids'),
        fix_runner_timestamp=_fix('runner_timestamp'))
""")

# Runs PROBES (a list of (name, code)) in order in one namespace (with the
# paths of argv[1]), each apart: its stdout and, if it raised, its traceback.
RUN_PROBES = textwrap.dedent("""
    import contextlib, io, json, traceback
    results = {}
    space = dict(compat=compat, sys=sys, **json.loads(sys.argv[1]))
    for name, code in PROBES:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(code, space)
            results[name] = dict(ok=True, out=out.getvalue())
        except BaseException:
            results[name] = dict(ok=False, out=out.getvalue(),
                                 error=traceback.format_exc())
    print('PROBES ' + json.dumps(results))
""")


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


#: mmaction2's own 16-frame TSM recipe, through mmengine's package lookup.
MMACTION_TSM = (
    'mmaction::recognition/tsm/'
    'tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py'
)


def _inheriting_config(folder):
    """A config of ours inheriting mmaction2's, the documented way."""
    path = folder / 'inherits_mmaction.py'
    path.write_text(f'_base_ = [{MMACTION_TSM!r}]\n')
    return path


BLOCK_IMPORTLIB_METADATA = """
import importlib.abc
class Block(importlib.abc.MetaPathFinder):  # as if not installed
    def find_spec(self, name, path=None, target=None):
        if name == 'importlib_metadata':
            raise ModuleNotFoundError(name)
block = Block()
sys.meta_path.insert(0, block)
"""

ONE_RANK_WORLD = """
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0))
os.environ.update(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                  MASTER_ADDR='127.0.0.1',
                  MASTER_PORT=str(s.getsockname()[1]))
s.close()
import torch
from mmengine.dist import init_dist
"""

TWO_RUNNERS_IN_ONE_SECOND = """
import glob, os, time
import torch
from mmengine.runner import Runner
def two_runners(work, now):
    real, time.time = time.time, lambda: now  # both start in one second
    def build(name):
        runner = Runner(model=torch.nn.Linear(1, 1), default_scope='mmengine',
                        work_dir=os.path.join(work, name))
        runner.logger.info(f'line of run {name}')
        return runner
    try:
        a, b = build('a'), build('b')
    finally:
        time.time = real
    for name in 'ab':
        logs = glob.glob(os.path.join(work, name, '*', '*.log'))
        text = ''.join(open(f).read() for f in logs)
        print(name, len(logs), text.count('line of run a'),
              text.count('line of run b'))
    print('one logger', a.logger is b.logger)
"""


METADATA_FIXED = """
assert compat.alias_importlib_metadata()
from mmaction.utils.dependency import satisfy_requirement
assert satisfy_requirement('mmengine>=0.1')
sys.meta_path.remove(block)
"""

DRN_FIXED = """
assert compat.stub_missing_drn()
import mmaction.models
from mmaction.models.localizers import DRN
try:
    DRN()
except ImportError as e:
    assert '2714' in str(e)
else:
    raise SystemExit('the stub DRN must refuse to build')
"""

RESNET_TSM_STOCK = """
from mmaction.models.backbones.resnet_tsm import ResNetTSM
ResNetTSM(depth=18, num_segments=4, pretrained=None).init_weights()
"""

CHECKPOINT_FIXED = """
import torch
assert compat.allow_checkpoint_globals()
ckpt = torch.load(CKPT)   # weights_only=True, the default
buf = ckpt['message_hub']['log_scalars']['train/loss']
assert float(buf.current()) == 0.5
assert int(ckpt['meta']['seed']) == 7
"""

SCOPED_PATHS_FIXED = """
assert compat.load_scoped_configs()
assert not compat.load_scoped_configs()  # idempotent
from mmengine.config import Config
cfg = Config.fromfile(MMACTION_TSM)
assert cfg.model.backbone.num_segments == 16
assert cfg.filename.endswith(MMACTION_TSM.split('::')[1])
"""

PACKAGE_PATHS_FIXED = """
assert compat.find_packages()
assert not compat.find_packages()  # idempotent
from mmengine.config import Config
cfg = Config.fromfile(INHERITING)
assert cfg.model.backbone.type == 'ResNetTSM'
assert cfg.model.backbone.num_segments == 16
"""

LAUNCHER_FIXED = """
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
"""

#: (name, code), in the order the fixes need: importlib_metadata and the
#: DRN stub before any mmaction model, the process group last. The code
#: sees CKPT, INHERITING and WORK (paths), MMACTION_TSM and ``compat``.
PROBES = [
    (
        'metadata_stock',
        BLOCK_IMPORTLIB_METADATA + 'import mmaction.utils.dependency',
    ),
    ('metadata_fixed', METADATA_FIXED),
    ('drn_stock', 'import mmaction.models'),
    ('drn_fixed', DRN_FIXED),
    ('resnet_tsm_stock', RESNET_TSM_STOCK),
    ('checkpoint_stock', 'import torch; torch.load(CKPT)'),
    ('checkpoint_fixed', CHECKPOINT_FIXED),
    (
        'package_paths_stock',
        'from mmengine.config import Config; Config.fromfile(INHERITING)',
    ),
    ('package_paths_fixed', PACKAGE_PATHS_FIXED),
    (
        'scoped_paths_stock',
        'from mmengine.config import Config; Config.fromfile(MMACTION_TSM)',
    ),
    ('scoped_paths_fixed', SCOPED_PATHS_FIXED),
    (
        'timestamp_stock',
        TWO_RUNNERS_IN_ONE_SECOND + "two_runners(WORK + '/stock', 1.7e9)",
    ),
    # Another second: the stock Runners' loggers hold the first one.
    (
        'timestamp_fixed',
        'compat.fix_runner_timestamp()\n'
        "two_runners(WORK + '/fixed', 1.7e9 + 10)",
    ),
    (
        'launcher_stock',
        ONE_RANK_WORLD + "init_dist('pytorch', backend='nccl')",
    ),
    ('launcher_fixed', ONE_RANK_WORLD + LAUNCHER_FIXED),
]


@pytest.fixture(scope='module')
def probes(tmp_path_factory) -> dict:
    """Every probe's result, by name: ``ok``, ``out`` and ``error`` (its
    traceback). The launcher probes run only without CUDA (with CUDA the
    stock launcher works and the fix does nothing)."""
    folder = tmp_path_factory.mktemp('compat_probes')
    paths = dict(
        CKPT=str(folder / 'ckpt.pth'),
        INHERITING=str(_inheriting_config(folder)),
        WORK=str(folder),
        MMACTION_TSM=MMACTION_TSM,
    )
    _mmengine_like_checkpoint(paths['CKPT'])
    listed = [
        p
        for p in PROBES
        if not (torch.cuda.is_available() and p[0].startswith('launcher_'))
    ]
    code = f'PROBES = {listed!r}\n' + RUN_PROBES
    done = subprocess.run(
        [sys.executable, '-c', LOAD_COMPAT + code, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(
        ln for ln in done.stdout.splitlines() if ln.startswith('PROBES ')
    )
    return json.loads(line[len('PROBES ') :])


def _fixed(result):
    assert result['ok'], result.get('error')
    return result


def _stock_fails_then_fixed(probes, fix, message, skip):
    """``<fix>_stock`` failed with ``message`` (or the test skips: the stack
    no longer needs the fix), and ``<fix>_fixed`` passed."""
    stock = probes[f'{fix}_stock']
    if stock['ok']:
        pytest.skip(skip)
    assert message in stock['error'], stock['error']
    _fixed(probes[f'{fix}_fixed'])


@pytest.mark.slow
def test_drn_stub_makes_mmaction_models_importable(probes):
    _stock_fails_then_fixed(
        probes,
        'drn',
        "No module named 'mmaction.models.localizers.drn'",
        skip='this mmaction2 ships localizers/drn: no stub needed',
    )


@pytest.mark.slow
def test_importlib_metadata_alias(probes):
    stock = probes['metadata_stock']
    assert not stock['ok']
    assert 'importlib_metadata' in stock['error']
    _fixed(probes['metadata_fixed'])


@pytest.mark.slow
def test_checkpoint_allow_list(probes):
    _stock_fails_then_fixed(
        probes,
        'checkpoint',
        'weights_only',
        skip='this torch does not load with weights_only=True',
    )


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


@pytest.mark.slow
def test_stock_resnet_tsm_init_without_pretrained_fails(probes):
    assert not probes['resnet_tsm_stock']['ok']  # what the fix exists for


# --------------------------------------------------------------------------
# package_paths: mmaction2's configs, found without pkg_resources
# --------------------------------------------------------------------------
@pytest.mark.slow
def test_stock_mmengine_cannot_find_mmaction_configs(probes):
    _stock_fails_then_fixed(
        probes,
        'package_paths',
        "No module named 'pkg_resources'",
        skip='pkg_resources is installed: no fix needed',
    )


def test_a_config_inheriting_mmaction2_s_loads(tmp_path):
    """Importing tsm_plugin is enough (``_base_`` is read before the
    config's ``custom_imports``); mmengine.hub finds the same file."""
    from mmengine.config import Config
    from mmengine.hub import get_config

    import tsm_plugin  # noqa: F401

    cfg = Config.fromfile(str(_inheriting_config(tmp_path)))
    assert cfg.model.backbone.type == 'ResNetTSM'
    assert cfg.model.backbone.num_segments == 16
    assert cfg.model.cls_head.num_classes == 174  # SSv2's
    hub = get_config(MMACTION_TSM)
    assert hub.filename.endswith(MMACTION_TSM.split('::')[1])
    assert hub.model.backbone == cfg.model.backbone


@pytest.mark.slow
def test_stock_config_fromfile_takes_no_package_scope(probes):
    """Stock ``Config.fromfile`` opens ``mmaction::...`` as a path."""
    _stock_fails_then_fixed(
        probes,
        'scoped_paths',
        'No such file or directory',
        skip='Config.fromfile resolves package::path: no fix needed',
    )


def test_config_fromfile_loads_mmaction2_s_recipe_by_scope():
    """The file ``_base_`` and ``mmengine.hub`` load; a wrong name is one
    line naming it (``tools/*.py`` take such names too)."""
    from mmengine.config import Config
    from mmengine.hub import get_config

    from tsm_plugin.errors import InputError
    from tsm_plugin.utils.config import load_config

    cfg = Config.fromfile(MMACTION_TSM)
    assert cfg.filename == get_config(MMACTION_TSM).filename
    assert cfg.model.backbone.type == 'ResNetTSM'
    assert cfg.model.backbone.num_segments == 16
    assert load_config(MMACTION_TSM).model == cfg.model
    for name in ('mmaction::recognition/tsm/none.py', 'no_such_pkg::a/b.py'):
        with pytest.raises(InputError, match=f'config not found: {name}'):
            load_config(name)


def test_package_lookups_match_the_installed_wheel():
    """What stock mmengine answers with pkg_resources installed."""
    import os.path as osp

    import mmaction

    from tsm_plugin.compat import package_paths

    folder = osp.dirname(mmaction.__file__)
    assert package_paths.get_installed_path('mmaction2') == folder
    assert package_paths.get_installed_path('mmaction') == folder
    assert package_paths.package2module('mmaction2') == 'mmaction'
    assert package_paths.is_installed('mmaction2')
    assert package_paths.is_installed('mmaction')  # by import name
    assert not package_paths.is_installed('no_such_package_here')


# --------------------------------------------------------------------------
# dist_cpu_init, ddp_cpu_device_ids
# --------------------------------------------------------------------------
no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path is taken only without CUDA'
)


@no_cuda
@pytest.mark.slow
def test_stock_launcher_fails_without_cuda(probes):
    stock = probes['launcher_stock']
    if stock['ok']:
        pytest.skip('this mmengine starts without CUDA: no fix needed')
    assert 'cuda' in stock['error'].lower(), stock['error']


@no_cuda
@pytest.mark.slow
def test_cpu_launcher_uses_gloo_and_ddp_wraps_cpu_model(probes):
    _fixed(probes['launcher_fixed'])


# --------------------------------------------------------------------------
# runner_timestamp
# --------------------------------------------------------------------------
def _printed(result) -> list:
    """The probe's 3 lines of counts (after the Runners' log lines)."""
    return _fixed(result)['out'].strip().splitlines()[-3:]


@pytest.mark.slow
def test_stock_second_runner_in_a_second_logs_into_the_first(probes):
    stock = _printed(probes['timestamp_stock'])
    if stock[-1] == 'one logger False':
        pytest.skip('this mmengine separates Runners of one second')
    # run b's line lands in run a's file; b's log directory has no log
    assert stock == ['a 1 1 1', 'b 0 0 0', 'one logger True']


@pytest.mark.slow
def test_each_runner_of_a_second_gets_its_own_log(probes):
    fixed = _printed(probes['timestamp_fixed'])
    assert fixed == ['a 1 1 0', 'b 1 0 1', 'one logger False']
