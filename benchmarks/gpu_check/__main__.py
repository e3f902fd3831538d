"""``python -m benchmarks.gpu_check`` (what ``tools/gpu_check.sh`` runs)."""

import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
