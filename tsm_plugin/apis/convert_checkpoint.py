"""``tools/convert_checkpoint.py``: a TSM-repo, FFN-repo or mmaction2
checkpoint written in this plugin's format for a config's model.

The source is recognised by its keys (:mod:`tsm_plugin.models.
checkpoint_formats`); the output holds ``state_dict`` in the model's keys
and ``meta`` naming the source and its format, and loads with
``load_from`` or ``tools/test.py`` like any checkpoint of ours.
"""

import argparse
from typing import List, Optional

from mmengine.logging import print_log

from ..engine.checkpoint import (
    existing_checkpoint,
    load_checkpoint_file,
    save_checkpoint_file,
)
from ..errors import InputError
from ..models.checkpoint_formats import convert, recognise
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
        InputError: a missing file, or a checkpoint that fills none of the
            model's weights.
    """
    from mmaction.registry import MODELS

    from .. import registration

    registration.register_all_modules()
    cfg = load_config(config, cfg_options)
    existing_checkpoint(src)
    checkpoint = load_checkpoint_file(src, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint)
    fmt = recognise(state)
    model = MODELS.build(cfg.model)
    converted, missing, unused = convert(state, model, fmt)
    if not converted:
        raise InputError(
            f'{src}: no tensor fits the model of {config} (format {fmt})'
        )
    save_checkpoint_file(
        dict(
            state_dict=converted,
            meta=dict(converted_from=src, source_format=fmt),
        ),
        dst,
    )
    print_log(
        f'{src} ({fmt}): {len(converted)} tensors -> {dst}; '
        f'{len(missing)} model keys left at their init, {len(unused)} '
        'source keys unused',
        logger='current',
    )
    return fmt


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(
        lambda a: convert_file(a.config, a.src, a.dst, a.cfg_options) and 0,
        args,
    )
