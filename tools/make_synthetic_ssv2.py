#!/usr/bin/env python
"""Thin CLI; the body is tsm_plugin.apis.make_synthetic (importable and
tested): ``tools/make_synthetic.py ssv2``."""

import os.path as osp
import sys

# Run from any directory without PYTHONPATH: the repo root holds tsm_plugin.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tsm_plugin.apis.make_synthetic import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(layout='ssv2'))
