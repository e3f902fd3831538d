"""GFLOPs and parameters of one clip at each frame count, by mmengine.

The compute axis of every TFD table (FFN, https://arxiv.org/abs/2303.14817,
Tab. 1: TSM-R50 at 224 x 224 costs 16.4 / 32.7 / 65.4 GFLOPs at 4 / 8 / 16
frames). Counted by mmengine's :class:`~mmengine.analysis.FlopAnalyzer`
(fvcore's jit-trace counter), which counts a multiply-add as one flop, the
convention of those figures; elementwise ops (ReLU, the residual add,
pooling) and TSM's temporal shift (https://arxiv.org/abs/1811.08383, a
memory move) count zero. The model is traced anew at each frame count, so
whatever depends on it (the shift, the head's consensus, an FFN's routing to
a branch) is what that count runs.

Parameters are those of the modules the trace ran: all of a TSM's at every
frame count, the shared convs plus one branch for an FFN.

A trace costs about as much as evaluating a few batches (~0.15-0.2 s per
frame count for the demo's ResNet-18 on 2 CPU cores, whatever the clip
size; more for a ResNet-50 at 224 px), and the count depends on the
architecture, the clip's size and the frame count alone, not on the
weights: :class:`FlopCache` keeps each count (:func:`architecture_key`), in
memory (bounded) and optionally in a JSON file, so two checkpoints of one
architecture, or a rerun in a new process, trace nothing again.
"""

import collections
import copy
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import mmengine
import torch
from mmengine.logging import print_log

from ..errors import ConfigValueError, InputError
from ..models.frame_counts import frame_count
from ..utils.atomic import write_json

#: Bumped when what a cache entry holds or how it is counted changes.
CACHE_VERSION = 1
#: Entries a cache keeps (least recently used dropped first): ~1 KB each;
#: 4096 covers 100 models x 40 frame counts.
MAX_ENTRIES = 4096


def architecture_key(model: torch.nn.Module) -> str:
    """What a FLOP count depends on, besides the clip: a hash of the
    unwrapped model's class, ``repr`` (every module and its settings, read
    with every ``num_segments`` at 1 so the count a model was trained at
    is not part of it), state-dict names and shapes, every module's
    ``frame_counts`` (an FFN's routing: Sec. 5.3) and the versions of
    mmengine and torch (the counter and the trace)."""
    from mmengine.model import is_model_wrapper

    net = model.module if is_model_wrapper(model) else model
    with frame_count(net, 1):
        text = repr(net)
    routing = [
        (name, repr(m.frame_counts))
        for name, m in net.named_modules()
        if hasattr(m, 'frame_counts')
    ]
    shapes = [
        (k, list(getattr(v, 'shape', ()))) for k, v in net.state_dict().items()
    ]
    kind = f'{type(net).__module__}.{type(net).__qualname__}'
    blob = json.dumps(
        [CACHE_VERSION, mmengine.__version__, torch.__version__, kind]
        + [text, routing, shapes]
    )
    return hashlib.sha1(blob.encode()).hexdigest()


class FlopCache:
    """One clip's counts by architecture, clip size and frame count.

    Keys are ``'<architecture_key>/<C>x<H>x<W>/<T>'``; values the per-count
    dicts :func:`count_complexity` returns. Bounded (least recently used
    dropped first). With ``path`` the entries are read from that JSON file
    at construction and written back (atomically, merged with what the
    file holds by then) by :meth:`save`.

    Args:
        path (str, optional): the JSON file; ``None``: memory only.
        max_entries (int): entries kept. Defaults to :data:`MAX_ENTRIES`.

    Attributes:
        traced (int): frame counts traced (not found) through this cache.

    Raises:
        InputError: ``path`` exists but is not a FLOP cache file.
    """

    def __init__(self, path=None, max_entries: int = MAX_ENTRIES):
        if max_entries < 1:
            raise ConfigValueError(
                f'FlopCache max_entries must be >= 1, got {max_entries}'
            )
        self.path = osp.abspath(os.fspath(path)) if path else None
        self.max_entries = int(max_entries)
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self.traced = 0
        for key, value in self._read().items():
            self._store(key, value)

    def _read(self) -> dict:
        if not self.path or not osp.isfile(self.path):
            return {}
        try:
            with open(self.path, encoding='utf-8') as f:
                data = json.load(f)
            if data['version'] != CACHE_VERSION:
                return {}  # counted another way: count again
            return dict(data['entries'])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f'FLOP cache {self.path}: not a FLOP cache file '
                f'({type(exc).__name__}); delete it to count anew'
            ) from None

    def _store(self, key: str, value: dict) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, key: str) -> Optional[dict]:
        """A copy of the entry under ``key``, or ``None``."""
        value = self._entries.get(key)
        if value is None:
            return None
        self._entries.move_to_end(key)
        return copy.deepcopy(value)

    def put(self, key: str, value: dict) -> None:
        """Keep a copy of ``value`` under ``key``."""
        self._store(key, copy.deepcopy(value))

    def save(self) -> None:
        """Write the entries to ``path`` (nothing without one)."""
        if not self.path:
            return
        # Another process's entries first: the least recently used here.
        merged = collections.OrderedDict(
            (k, v) for k, v in self._read().items() if k not in self._entries
        )
        merged.update(self._entries)
        while len(merged) > self.max_entries:
            merged.popitem(last=False)
        write_json(self.path, dict(version=CACHE_VERSION, entries=merged))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries


#: The cache of ``flop_cache=None``: this process's, in memory.
DEFAULT_CACHE = FlopCache()
_FILE_CACHES: Dict[str, FlopCache] = {}


def flop_cache_of(flop_cache) -> Optional[FlopCache]:
    """The :class:`FlopCache` a ``flop_cache`` argument names.

    ``None``: :data:`DEFAULT_CACHE`; ``False``: none (trace every time); a
    path: that file's cache (one per file in a process); a
    :class:`FlopCache`: itself.

    Raises:
        ConfigValueError: anything else.
    """
    if flop_cache is None:
        return DEFAULT_CACHE
    if flop_cache is False:
        return None
    if isinstance(flop_cache, FlopCache):
        return flop_cache
    if isinstance(flop_cache, (str, os.PathLike)):
        path = osp.abspath(os.fspath(flop_cache))
        if path not in _FILE_CACHES:
            _FILE_CACHES[path] = FlopCache(path)
        return _FILE_CACHES[path]
    raise ConfigValueError(
        'flop_cache must be None, False, a path or a FlopCache, got '
        f'{flop_cache!r}'
    )


class _Clip(torch.nn.Module):
    """The recognizer from raw frames to class scores: backbone, neck and
    head, as ``mode='tensor'`` runs them (no data preprocessor, no loss)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs, mode='tensor', stage='head')


def _used_params(params_by_module: Dict[str, int], uncalled: set) -> int:
    """All parameters less those of the outermost modules never called."""
    unused = sum(
        params_by_module[name]
        for name in uncalled
        if not any(name.startswith(other + '.') for other in uncalled)
    )
    return params_by_module[''] - unused


def _trace(
    net: torch.nn.Module, frames: Sequence[int], chw: Tuple[int, int, int]
) -> Dict[int, dict]:
    """Trace ``net`` at each frame count: :func:`count_complexity`'s dicts."""
    from mmengine.analysis import FlopAnalyzer, parameter_count

    clip = _Clip(net)
    param = next(net.parameters())
    params_by_module = parameter_count(clip)
    was_training = net.training
    out = {}
    net.eval()
    try:
        for t in frames:
            shape = (1, t, *chw)
            x = torch.zeros(shape, device=param.device, dtype=param.dtype)
            analyzer = FlopAnalyzer(clip, (x,))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            with frame_count(net, t), torch.no_grad():
                flops = int(analyzer.total())  # the trace, kept for below
            uncalled = analyzer.uncalled_modules()
            params = _used_params(params_by_module, uncalled)
            out[t] = dict(
                gflops=flops / 1e9,
                params_m=params / 1e6,
                flops=flops,
                params=params,
                input_shape=list(shape),
                uncounted_ops=sorted(analyzer.unsupported_ops()),
            )
    finally:
        net.train(was_training)
    return out


def count_complexity(
    model: torch.nn.Module,
    frames: Sequence[int],
    input_size: Tuple[int, int] = (224, 224),
    in_channels: int = 3,
    logger=None,
    flop_cache=None,
) -> Dict[int, dict]:
    """Count one clip's FLOPs and parameters at each frame count.

    A count found in ``flop_cache`` is taken from it; the others are
    traced, then kept there. The model's frame count and train/eval mode
    are restored afterwards; a trace runs on its device in its parameter
    dtype, without gradients.

    Args:
        model (nn.Module): a recognizer (a model wrapper is fine).
        frames (list[int]): frame counts; each is traced separately.
        input_size (tuple[int, int]): ``(height, width)`` of a frame as the
            model sees it (after crop and resize). Defaults to 224 x 224.
        in_channels (int): channels per frame. Defaults to 3.
        logger: an ``MMLogger`` or its name (default: the current one).
        flop_cache (FlopCache | str | bool, optional): where counts are
            kept (:func:`flop_cache_of`): ``None`` this process's memory,
            a path a JSON file, ``False`` none (trace every count).

    Returns:
        dict: per frame count, in the order of ``frames``: ``gflops`` (1e9
        multiply-adds), ``params_m`` (millions of parameters used),
        ``flops`` and ``params`` (exact counts), ``input_shape`` (the clip
        traced, ``1 x T x C x H x W``) and ``uncounted_ops`` (ops counted
        as zero, by name).
    """
    from mmengine.model import is_model_wrapper

    net = model.module if is_model_wrapper(model) else model
    cache = flop_cache_of(flop_cache)
    chw = (int(in_channels), *(int(s) for s in input_size))
    found, keys = {}, {}
    if cache is not None:
        arch = architecture_key(net)
        size = 'x'.join(str(s) for s in chw)
        keys = {t: f'{arch}/{size}/{t}' for t in frames}
        for t in frames:
            entry = cache.get(keys[t])
            if entry is not None:
                found[t] = entry
    missing = [t for t in dict.fromkeys(frames) if t not in found]
    if missing:
        found.update(_trace(net, missing, chw))
        if cache is not None:
            for t in missing:
                cache.put(keys[t], found[t])
            cache.traced += len(missing)
            cache.save()
    out = {t: found[t] for t in frames}
    summary = ', '.join(
        f'{t} f {c["gflops"]:.1f} GFLOPs' for t, c in out.items()
    )
    print_log(
        f'TFD: one clip of {chw[1]}x{chw[2]}: {summary}; '
        f'{next(iter(out.values()))["params_m"]:.2f} M parameters'
        f' ({len(out) - len(missing)} of {len(out)} counts cached)',
        logger=logger or 'current',
    )
    return out


def add_complexity(
    report: dict,
    model: torch.nn.Module,
    input_shape: Optional[Sequence[int]],
    logger=None,
    flop_cache=None,
) -> dict:
    """Put ``gflops`` and ``params_m`` into each row of a sweep's report.

    Args:
        report (dict): :func:`~.sweep.sweep_model`'s report.
        model (nn.Module): the model swept.
        input_shape (list[int], optional): the shape of one sample the sweep
            fed the model (``views * T x C x H x W``); its last three sizes
            are the frame's. ``None`` (no sample seen) leaves the report.
        logger, flop_cache: see :func:`count_complexity`.

    Returns:
        dict: ``report``, changed in place.
    """
    if input_shape is None:
        return report
    *_, channels, height, width = input_shape
    frames = [r['frames'] for r in report['results']]
    counted = count_complexity(
        model,
        frames,
        (height, width),
        channels,
        logger=logger,
        flop_cache=flop_cache,
    )
    for row in report['results']:
        c = counted[row['frames']]
        row.update(gflops=c['gflops'], params_m=c['params_m'])
    report['complexity_input'] = [channels, height, width]
    return report
