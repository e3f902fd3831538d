#!/usr/bin/env bash
# Train on NGPUS processes of this node with torchrun (one per GPU; without
# CUDA, CPU processes over gloo). Total batch = NGPUS x NNODES x batch size.
#
#   tools/dist_train.sh CONFIG NGPUS [tools/train.py flags]
#
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (tools/launch.sh).
# MAX_RESTARTS=N: when a process dies, torchrun restarts them all, up to N
# times, and they resume from the work dir's last checkpoint by themselves.
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
