#!/usr/bin/env python
"""Thin CLI; the body is the ``benchmarks`` package (importable, tested)."""

import os.path as osp
import sys

# Run from any directory without PYTHONPATH: the repo root holds benchmarks.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from benchmarks.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
