#!/usr/bin/env bash
# Train on NGPUS processes of this node with torchrun (one per GPU; without
# CUDA, CPU processes over gloo). Total batch = NGPUS x NNODES x batch size.
#
#   tools/dist_train.sh CONFIG NGPUS [tools/train.py flags]
#
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (tools/launch.sh).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NGPUS [tools/train.py flags]" >&2
    exit 2
fi
CONFIG=$1
NGPUS=$2
shift 2
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$TOOLS/launch.sh" torchrun "$NGPUS" "$TOOLS/train.py" "$CONFIG" "$@"
