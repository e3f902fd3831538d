#!/usr/bin/env bash
# Evaluate CHECKPOINT on NGPUS processes of this node with torchrun (one per
# GPU; without CUDA, CPU processes over gloo). Each process scores its share
# of the test set; rank 0 gathers the results and reports the metrics.
#
#   tools/dist_test.sh CONFIG CHECKPOINT NGPUS [tools/test.py flags]
#
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (tools/launch.sh).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NGPUS [tools/test.py flags]" >&2
    exit 2
fi
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# CONFIG CHECKPOINT NGPUS [flags] -> torchrun NGPUS test.py CONFIG CHECKPOINT
exec "$TOOLS/launch.sh" torchrun "$3" "$TOOLS/test.py" "$1" "$2" "${@:4}"
