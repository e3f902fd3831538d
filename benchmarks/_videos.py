"""The videos the data and tfd modes read: any SSv2-format set, or a
synthetic one written once: SSv2-sized (the default) or, for ``data
--videos k400``, Kinetics-400-sized."""

import json
import os
import os.path as osp
from typing import NamedTuple

from mmengine.utils.dl_utils import set_multi_processing

from tsm_plugin.errors import InputError
from tsm_plugin.testing.synthetic_ssv2 import (
    make_synthetic_ssv2,
)
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
# Kinetics-400's size as commonly used: 340x256 (short side 256), 30 fps,
# 10 s clips, H.264 .mp4; the same textured background.
K400_SET = dict(
    BENCH_SET,
    height=256,
    width=340,
    fps=30,
    min_seconds=10.0,
    max_seconds=10.0,
    container='mp4',
)


class VideoSet(NamedTuple):
    """A synthetic set the benchmarks write under ``--cache``."""

    folder: str  # under --cache
    settings: dict  # make_synthetic_ssv2's (its container: the suffix)
    per_class: int  # training videos per class (8 classes)
    about: str  # for the logs

    @property
    def suffix(self) -> str:
        """The videos' suffix, which the pipelines read."""
        return '.' + self.settings.get('container', 'webm')


VIDEO_SETS = {
    'ssv2': VideoSet(
        'ssv2_240p',
        BENCH_SET,
        6,
        'SSv2-sized videos (240x426, 12 fps, 2-6 s, VP9 .webm)',
    ),
    'k400': VideoSet(
        'k400_256p',
        K400_SET,
        2,  # 16 videos: 10 s each, ~0.1 s a clip through PyAV
        'Kinetics-400-sized videos (256x340, 30 fps, 10 s, H.264 .mp4) '
        'in the SSv2 layout',
    ),
}


def bench_set(
    cache: str,
    num_train_per_class: int = 6,
    num_val_per_class: int = 3,
    videos: str = 'ssv2',
) -> str:
    """The benchmark's synthetic set ``videos`` (:data:`VIDEO_SETS`) under
    ``cache``, made once.

    The ``k400`` set is H.264 ``.mp4`` (``<id>.mp4`` in the SSv2 layout,
    read by ``SSv2Dataset(suffix='.mp4')``).

    Returns:
        str: its root (official SSv2 layout); reused when its stamp says it
        was made with these settings.
    """
    vs = VIDEO_SETS[videos]
    root = osp.join(cache, vs.folder)
    stamp = osp.join(root, 'bench.json')
    want = dict(
        vs.settings,
        num_train_per_class=num_train_per_class,
        num_val_per_class=num_val_per_class,
    )
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == want:  # the generator's settings
                return root
    log(f'writing the benchmark videos to {root} (once)')
    workers = max(1, min(4, os.cpu_count() or 1))
    make_synthetic_ssv2(
        root, overwrite=True, progress=False, workers=workers, **want
    )
    write_json(stamp, want)
    return root


def video_set(args) -> VideoSet:
    """The set ``--videos`` names (modes without the flag: SSv2-sized)."""
    return VIDEO_SETS[getattr(args, 'videos', None) or 'ssv2']


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
    name = getattr(args, 'videos', None) or 'ssv2'
    vs = VIDEO_SETS[name]
    return bench_set(args.cache, vs.per_class, 3 * (name == 'ssv2'), name)


def data_setup(args) -> tuple:
    """The config (its process settings applied, as training applies them)
    and the videos' root."""
    init_scope()
    cfg = load_config(args.config)
    mp_cfg = (cfg.get('env_cfg') or {}).get('mp_cfg') or {}
    set_multi_processing(**mp_cfg, distributed=False)
    return cfg, video_root(args)
