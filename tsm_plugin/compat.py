"""Fixes of the published OpenMMLab stack, all in one place.

Pinned stack: mmaction2 1.2.0, mmengine 0.10.7, mmcv-lite 2.1.0, torch >= 2.6.
Each fix is idempotent, guarded so that it does nothing on a stack that no
longer needs it, and covered by a test in ``tests/test_compat.py`` that fails
without it. :func:`apply` runs them in dependency order; importing
``tsm_plugin`` calls it before anything imports ``mmaction.models``.

Breakages that need no patch, because our configs avoid them:

* mmaction2's 16-frame sthv2 test config passes ``pipeline`` to the
  dataloader instead of the dataset; our configs put every override inside
  ``dataset=`` (``configs/_base_/datasets/ssv2_16f.py``).
* numpy 2: ``ColorJitter``'s hue shift overflows uint8 at random; no recipe
  of ours uses ``ColorJitter`` (neither TSM nor FFN does on SSv2).
"""
import importlib
import importlib.metadata
import importlib.util
import os.path as osp
import sys
import types
import warnings

_APPLIED = False


def stub_missing_drn() -> bool:
    """Stub ``mmaction.models.localizers.drn``, missing from the 1.2.0 wheel.

    ``mmaction/models/localizers/__init__.py`` imports ``.drn.drn.DRN`` but
    the wheel ships no ``drn`` folder, so ``import mmaction.models`` fails
    (https://github.com/open-mmlab/mmaction2/issues/2714). The stub's ``DRN``
    raises a clear error if anyone builds it.

    Returns:
        bool: whether the stub was installed.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    pkg_dir = list(spec.submodule_search_locations)[0]
    if osp.exists(osp.join(pkg_dir, 'models', 'localizers', 'drn', 'drn.py')):
        return False
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return False

    class DRN:  # noqa: D401 - placeholder
        """Placeholder for the localizer missing from the mmaction2 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'mmaction2 1.2.0 ships without mmaction/models/localizers/drn '
                '(open-mmlab/mmaction2#2714); install mmaction2 from source '
                'to use DRN.')

    pkg = types.ModuleType(name)
    pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    mod = types.ModuleType(name + '.drn')
    mod.DRN = DRN
    pkg.drn = mod
    sys.modules[name] = pkg
    sys.modules[name + '.drn'] = mod
    return True


def alias_importlib_metadata() -> bool:
    """Serve ``importlib_metadata`` from the standard library if missing.

    ``mmaction/utils/dependency.py`` imports the ``importlib_metadata``
    backport without declaring it; Python >= 3.8 has the same API as
    ``importlib.metadata``. (``requirements.txt`` also lists the backport.)

    Returns:
        bool: whether the alias was installed.
    """
    try:
        import importlib_metadata  # noqa: F401
        return False
    except ImportError:
        sys.modules['importlib_metadata'] = importlib.metadata
        return True


def _history_buffer_getattr(obj, name):
    """``getattr`` as a checkpoint may use it: HistoryBuffer methods only.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``min``, ``max``,
    ``current``, ``mean``) as ``getattr(HistoryBuffer, 'min')``. A general
    ``getattr`` would let a checkpoint reach any attribute (``ndarray.tofile``
    writes files), so only those methods resolve here.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    methods = {'min', 'max', 'current', 'mean',
               *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in methods:
        return getattr(HistoryBuffer, name)
    import pickle
    raise pickle.UnpicklingError(
        f'checkpoint refused: getattr({obj!r}, {name!r}) is not a '
        'HistoryBuffer statistics method')


def checkpoint_safe_globals() -> list:
    """The exact non-tensor globals that mmengine/mmaction2 checkpoints hold.

    torch >= 2.6 unpickles with ``weights_only=True``; mmengine 0.10.7 saves
    its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays and
    their statistics methods) and numpy scalars in ``meta``, so ``--resume``
    fails. Everything here is plain data: constructing it runs no user code.
    """
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2 moved the pickling helpers to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar

    dtype_classes = [type(np.dtype(t)) for t in (
        'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
        'uint32', 'uint64', 'float16', 'float32', 'float64')]
    return [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar,
            *dtype_classes, (_history_buffer_getattr, 'builtins.getattr')]


def allow_checkpoint_globals() -> bool:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load``.

    ``weights_only`` stays on: a checkpoint carrying any other pickled object
    is still refused by torch, and nothing in it runs.

    Returns:
        bool: whether globals were added.
    """
    import torch
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return False  # torch < 2.4 has no weights_only default to fight
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    return True


def fix_resnet_tsm_init() -> bool:
    """Let mmaction2's ``ResNetTSM(pretrained=None)`` initialise.

    ``ResNetTSM.init_weights`` loads 2D weights whenever ``pretrained2d`` is
    True (its default), even when ``pretrained`` is None, and crashes in
    ``_load_checkpoint(None)``. We need the stock model from scratch as the
    reference for our backbone and benchmarks.

    Returns:
        bool: whether the patch was installed.
    """
    from mmaction.models.backbones.resnet_tsm import ResNetTSM
    original = ResNetTSM.init_weights
    if getattr(original, '_tsm_plugin_fixed', False):
        return False

    def init_weights(self):
        if self.pretrained2d and self.pretrained is None:
            self.pretrained2d = False  # nothing to load: plain ResNet init
        original(self)

    init_weights._tsm_plugin_fixed = True
    ResNetTSM.init_weights = init_weights
    return True


def _cuda_free_dist_init(original):
    """Wrap an mmengine ``_init_dist_*`` so it runs on a torch without CUDA.

    With CUDA it calls ``original`` unchanged. Without it, ``nccl`` (the
    config default, CUDA-only) becomes ``gloo`` and ``torch.cuda.set_device``
    is a no-op for the duration of the call.
    """
    import functools

    import torch

    @functools.wraps(original)
    def init(backend, *args, **kwargs):
        if torch.cuda.is_available():
            return original(backend, *args, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None
        try:
            return original(backend, *args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    init._tsm_plugin_fixed = True
    return init


def fix_cpu_dist_init() -> bool:
    """Let ``--launcher pytorch|slurm|mpi`` start on a machine without CUDA.

    mmengine 0.10.7's ``_init_dist_pytorch``, ``_init_dist_slurm`` and
    ``_init_dist_mpi`` (``mmengine/dist/utils.py``,
    https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/dist/utils.py)
    call ``torch.cuda.set_device(local_rank)`` unconditionally, which raises
    on a CPU-only torch (``torch._C has no attribute '_cuda_setDevice'``), and
    our config's ``dist_cfg.backend='nccl'`` needs CUDA anyway. Without CUDA
    the backend becomes ``gloo`` and ``set_device`` is skipped, so
    ``tools/dist_train.sh`` runs on CPU with no config change. With CUDA
    nothing changes. ``init_dist`` looks these helpers up as module globals,
    so replacing them there is enough. Tested in
    ``tests/test_distributed.py`` (stock failure, fix, 2-process run).

    Returns:
        bool: whether the patch was installed.
    """
    from mmengine.dist import utils
    if getattr(utils._init_dist_pytorch, '_tsm_plugin_fixed', False):
        return False
    for name in ('_init_dist_pytorch', '_init_dist_slurm', '_init_dist_mpi'):
        setattr(utils, name, _cuda_free_dist_init(getattr(utils, name)))
    return True


def fix_cpu_ddp_device_ids() -> bool:
    """Let mmengine wrap a CPU model in ``MMDistributedDataParallel``.

    ``Runner.wrap_model`` (mmengine 0.10.7,
    https://github.com/open-mmlab/mmengine/blob/v0.10.7/mmengine/runner/runner.py)
    always passes ``device_ids=[LOCAL_RANK]``; torch's DDP refuses that for a
    module on CPU ("device_ids and output_device arguments only work with
    single-device/multiple-device GPU modules or CPU modules"). For a module
    whose parameters are all on CPU, ``device_ids``/``output_device`` are
    dropped, which is what DDP expects there. GPU modules are untouched.
    Tested in ``tests/test_distributed.py``.

    Returns:
        bool: whether the patch was installed.
    """
    from mmengine.model import MMDistributedDataParallel
    original = MMDistributedDataParallel.__init__
    if getattr(original, '_tsm_plugin_fixed', False):
        return False

    def __init__(self, module, *args, **kwargs):
        devices = {p.device.type for p in module.parameters()}
        if devices == {'cpu'}:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original(self, module, *args, **kwargs)

    __init__._tsm_plugin_fixed = True
    MMDistributedDataParallel.__init__ = __init__
    return True


def apply() -> None:
    """Apply every fix once, in the order their imports need."""
    global _APPLIED
    if _APPLIED:
        return
    alias_importlib_metadata()
    stub_missing_drn()
    allow_checkpoint_globals()
    # mmcv-lite has no compiled ops by design; mmcv warns about it on every
    # import of mmaction.models. TSM needs none of them.
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    importlib.import_module('mmaction.models')
    fix_resnet_tsm_init()
    fix_cpu_dist_init()
    fix_cpu_ddp_device_ids()
    _APPLIED = True
