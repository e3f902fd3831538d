"""Let ``torch.load(weights_only=True)`` read mmengine's checkpoints.

torch >= 2.6 unpickles with ``weights_only=True`` by default; mmengine 0.10.7
saves its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays and
their statistics methods) and numpy scalars in ``meta``, so ``--resume``
fails. The fix
allow-lists exactly those globals; everything in the list is plain data, so
constructing it runs no user code, and a checkpoint carrying any other
pickled object is still refused.
"""

import pickle


def history_buffer_getattr(obj, name):
    """``getattr`` as a checkpoint may use it: HistoryBuffer methods only.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``min``, ``max``,
    ``current``, ``mean``) as ``getattr(HistoryBuffer, 'min')``. A general
    ``getattr`` would let a checkpoint reach any attribute (``ndarray.tofile``
    writes files), so only those methods resolve here.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    methods = {
        'min',
        'max',
        'current',
        'mean',
        *HistoryBuffer._statistics_methods,
    }
    if obj is HistoryBuffer and name in methods:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint refused: getattr({obj!r}, {name!r}) is not a '
        'HistoryBuffer statistics method'
    )


def safe_globals() -> list:
    """The exact non-tensor globals of mmengine/mmaction2 checkpoints."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2 moved the pickling helpers to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar

    dtype_classes = [
        type(np.dtype(t))
        for t in (
            'bool',
            'int8',
            'int16',
            'int32',
            'int64',
            'uint8',
            'uint16',
            'uint32',
            'uint64',
            'float16',
            'float32',
            'float64',
        )
    ]
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        _reconstruct,
        scalar,
        *dtype_classes,
        (history_buffer_getattr, 'builtins.getattr'),
    ]


def apply() -> bool:
    """Allow-list :func:`safe_globals` for ``torch.load``.

    Returns:
        bool: whether globals were added.
    """
    import torch

    if not hasattr(torch.serialization, 'add_safe_globals'):
        return False  # torch < 2.4 has no weights_only default to fight
    torch.serialization.add_safe_globals(safe_globals())
    return True
