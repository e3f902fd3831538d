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
"""

from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from ..models.frame_counts import frame_count


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


def count_complexity(
    model: torch.nn.Module,
    frames: Sequence[int],
    input_size: Tuple[int, int] = (224, 224),
    in_channels: int = 3,
    logger=None,
) -> Dict[int, dict]:
    """Count one clip's FLOPs and parameters at each frame count.

    The model's frame count and train/eval mode are restored afterwards; the
    count runs on its device in its parameter dtype, without gradients.

    Args:
        model (nn.Module): a recognizer (a model wrapper is fine).
        frames (list[int]): frame counts; each is traced separately.
        input_size (tuple[int, int]): ``(height, width)`` of a frame as the
            model sees it (after crop and resize). Defaults to 224 x 224.
        in_channels (int): channels per frame. Defaults to 3.
        logger: an ``MMLogger`` or its name (default: the current one).

    Returns:
        dict: per frame count, ``gflops`` (1e9 multiply-adds), ``params_m``
        (millions of parameters used), ``flops`` and ``params`` (exact
        counts), ``input_shape`` (the clip traced, ``1 x T x C x H x W``)
        and ``uncounted_ops`` (ops counted as zero, by name).
    """
    from mmengine.analysis import FlopAnalyzer, parameter_count
    from mmengine.model import is_model_wrapper

    net = model.module if is_model_wrapper(model) else model
    clip = _Clip(net)
    param = next(net.parameters())
    params_by_module = parameter_count(clip)
    was_training = net.training
    height, width = (int(s) for s in input_size)
    out = {}
    net.eval()
    try:
        for t in frames:
            shape = (1, t, in_channels, height, width)
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
    summary = ', '.join(
        f'{t} f {c["gflops"]:.1f} GFLOPs' for t, c in out.items()
    )
    print_log(
        f'TFD: one clip of {height}x{width}: {summary}; '
        f'{next(iter(out.values()))["params_m"]:.2f} M parameters',
        logger=logger or 'current',
    )
    return out


def add_complexity(
    report: dict,
    model: torch.nn.Module,
    input_shape: Optional[Sequence[int]],
    logger=None,
) -> dict:
    """Put ``gflops`` and ``params_m`` into each row of a sweep's report.

    Args:
        report (dict): :func:`~.sweep.sweep_model`'s report.
        model (nn.Module): the model swept.
        input_shape (list[int], optional): the shape of one sample the sweep
            fed the model (``views * T x C x H x W``); its last three sizes
            are the frame's. ``None`` (no sample seen) leaves the report.
        logger: see :func:`count_complexity`.

    Returns:
        dict: ``report``, changed in place.
    """
    if input_shape is None:
        return report
    *_, channels, height, width = input_shape
    frames = [r['frames'] for r in report['results']]
    counted = count_complexity(
        model, frames, (height, width), channels, logger=logger
    )
    for row in report['results']:
        c = counted[row['frames']]
        row.update(gflops=c['gflops'], params_m=c['params_m'])
    report['complexity_input'] = [channels, height, width]
    return report
