"""``tools/convert_checkpoint.py``: a TSM-repo, FFN-repo or mmaction2
checkpoint written in this plugin's format for a config's model.

The source is recognised by its keys (:mod:`tsm_plugin.models.
checkpoint_formats`) and must fill the model (as ``tools/test.py`` demands);
the output holds ``state_dict`` in the model's keys and ``meta`` naming the
source and its format, and loads with ``load_from`` or ``tools/test.py``
like any checkpoint of ours.
"""

import argparse
from typing import List, Optional

from mmengine.logging import print_log

from ..engine.checkpoint import (
    existing_checkpoint,
    load_checkpoint_file,
    save_checkpoint_file,
)
from ..models.checkpoint_formats import plan_load
from ..utils.config import load_config
from ._cli import ArgumentParser, add_cfg_options, run_cli


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        description='Write a TSM-repo / FFN-repo / mmaction2 checkpoint in '
        "this plugin's format."
    )
    p.add_argument('config', help='config of the model to convert for')
    p.add_argument('src', help='the checkpoint to convert (.pth/.pth.tar)')
    p.add_argument('dst', help='where the converted checkpoint goes')
    add_cfg_options(p)
    return p


def convert_file(config: str, src: str, dst: str, cfg_options=None) -> str:
    """Convert ``src`` for ``config``'s model into ``dst``; returns the
    source format.

    Raises:
        InputError: a missing file, or a checkpoint that does not fill the
            model (one line naming the first key that does not fit).
    """
    from mmaction.registry import MODELS

    from .. import registration

    registration.register_all_modules()
    cfg = load_config(config, cfg_options)
    existing_checkpoint(src)
    checkpoint = load_checkpoint_file(src, map_location='cpu')
    model = MODELS.build(cfg.model)
    plan = plan_load(checkpoint, model, src)
    save_checkpoint_file(
        dict(
            state_dict=plan.state_dict,
            meta=dict(converted_from=src, source_format=plan.source),
        ),
        dst,
    )
    print_log(
        f'{src}: {plan.summary()} -> {dst}',
        logger='current',
    )
    return plan.source


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(
        lambda a: convert_file(a.config, a.src, a.dst, a.cfg_options) and 0,
        args,
    )
