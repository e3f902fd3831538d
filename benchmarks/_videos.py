"""The videos the data and tfd modes read: any SSv2-format set, or an
SSv2-sized synthetic one written once."""

import json
import os
import os.path as osp

from mmengine.utils.dl_utils import set_multi_processing

from tsm_plugin.errors import InputError
from tsm_plugin.testing.synthetic_ssv2 import make_synthetic_ssv2
from tsm_plugin.utils.config import load_config

from ._build import init_scope
from ._timing import log, write_json

DEFAULT_CACHE = 'work_dirs/bench_data'

# SSv2's size: height 240 (most videos 427 wide: 426, VP9 needs even), about
# 12 fps, 2-6 s; a textured background makes decoding cost what it costs on
# real footage.
BENCH_SET = dict(
    height=240,
    width=426,
    fps=12,
    min_seconds=2.0,
    max_seconds=6.0,
    textured=True,
    num_test_per_class=0,
    seed=0,
)


def bench_set(
    cache: str, num_train_per_class: int = 6, num_val_per_class: int = 3
) -> str:
    """The benchmark's SSv2-sized synthetic set under ``cache``, made once.

    Returns:
        str: its root (official SSv2 layout); reused when its labels exist
        with enough videos.
    """
    root = osp.join(cache, 'ssv2_240p')
    stamp = osp.join(root, 'bench.json')
    want = dict(
        BENCH_SET,
        num_train_per_class=num_train_per_class,
        num_val_per_class=num_val_per_class,
    )
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                return root
    log(f'writing the benchmark videos to {root} (once)')
    make_synthetic_ssv2(
        root,
        overwrite=True,
        progress=False,
        workers=max(1, min(4, os.cpu_count() or 1)),
        **want,
    )
    write_json(stamp, want)
    return root


def video_root(args) -> str:
    """``--data-root`` if given (any SSv2-format set), else the bench set.

    Raises:
        InputError: ``--data-root`` has no ``labels/labels.json``.
    """
    if args.data_root:
        if not osp.isfile(osp.join(args.data_root, 'labels', 'labels.json')):
            raise InputError(
                f'--data-root {args.data_root}: no '
                'labels/labels.json (not an SSv2-format set)'
            )
        return args.data_root
    return bench_set(args.cache)


def data_setup(args) -> tuple:
    """The config (its process settings applied, as training applies them)
    and the videos' root."""
    init_scope()
    cfg = load_config(args.config)
    mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
    set_multi_processing(**mp_cfg, distributed=False)
    return cfg, video_root(args)
