"""``python -m benchmarks MODE ...`` (as ``tools/benchmark.py``)."""

import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
