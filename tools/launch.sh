#!/usr/bin/env bash
# What tools/dist_*.sh and tools/slurm_*.sh share: start one process of
# SCRIPT per GPU (without CUDA, CPU processes over gloo).
#
#   tools/launch.sh torchrun NPROC SCRIPT [args]
#       NPROC processes on this node, `SCRIPT args --launcher pytorch`.
#       NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1): multi-node, the
#       same on every node but NODE_RANK (0..NNODES-1). MASTER_PORT or PORT:
#       on one node a free port by default, on several 29500.
#       MAX_RESTARTS (0): when a process fails, torchrun stops the others;
#       torchrun is then started again, up to this many times, with
#       TSM_RESTART_COUNT / TSM_MAX_RESTARTS set (tools/train.py resumes
#       from the work dir's last checkpoint). A new torchrun, not its
#       --max-restarts: torch 2.13's static rendezvous keeps the first
#       attempt's store, and a restarted process group may connect to the
#       dead processes' addresses ("Connection refused"). A status that a
#       restart cannot change (2: bad input, 4: a write the disk refused),
#       which the tools write to TSM_FINAL_STATUS_FILE because torchrun
#       reports every failure as 1, ends the job with that status.
#   tools/launch.sh srun PARTITION JOB_NAME SCRIPT [args]
#       one SLURM task per GPU, `SCRIPT args --launcher slurm`; mmengine
#       reads ranks and the master address from SLURM's variables.
#       GPUS (8, in all), GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (5:
#       dataloader workers + 1), SRUN_ARGS (more srun options). Exits with
#       the highest status of the tasks (srun's rule).
#
# PYTHON picks the interpreter (default: the repo's .venv, else `python`).
set -uo pipefail

usage() {
    echo "usage: $0 torchrun NPROC SCRIPT [args]" >&2
    echo "       $0 srun PARTITION JOB_NAME SCRIPT [args]" >&2
    exit 2
}

bad_restarts() {
    echo "error: MAX_RESTARTS=${MAX_RESTARTS}: expected a whole number" \
        ">= 0 (restarts after a failed process)" >&2
    exit 2
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON=python
    fi
fi

launch_torchrun() {
    local nproc=$1 script=$2
    shift 2
    local max_restarts=${MAX_RESTARTS:-0}
    case $max_restarts in *[!0-9]*) bad_restarts ;; esac
    local nnodes=${NNODES:-1}
    local port=${MASTER_PORT:-${PORT:-}}
    if [ -z "$port" ]; then
        if [ "$nnodes" -gt 1 ]; then
            port=29500  # every node must agree: no random default
        else
            # A free port from the OS: two jobs on one node never collide.
            port=$("$PYTHON" -c 'import socket; s = socket.socket()
s.bind(("", 0)); print(s.getsockname()[1])')
        fi
    fi
    # torchrun, not the deprecated torch.distributed.launch.
    local torchrun=("$PYTHON" -m torch.distributed.run
        --nnodes="$nnodes"
        --node_rank="${NODE_RANK:-0}"
        --master_addr="${MASTER_ADDR:-127.0.0.1}"
        --master_port="$port"
        --nproc_per_node="$nproc"
        "$script" "$@" --launcher pytorch)
    if [ "$max_restarts" -eq 0 ]; then
        exec "${torchrun[@]}"
    fi
    restart_loop "$max_restarts" "${torchrun[@]}"
}

# restart_loop N COMMAND...: run COMMAND again after a failure, up to N
# times, with TSM_RESTART_COUNT (1..N) and TSM_MAX_RESTARTS exported.
# SIGTERM/SIGINT to this script end the loop and reach COMMAND as SIGTERM
# (a background command ignores SIGINT).
restart_loop() {
    local max=$1 restart=0 status child='' stopped=0 final
    shift
    trap 'stopped=1; kill -TERM "$child" 2>/dev/null' TERM INT
    final=$(mktemp "${TMPDIR:-/tmp}/tsm_final_status.XXXXXX")
    trap 'rm -f "$final"' EXIT
    export TSM_MAX_RESTARTS=$max TSM_FINAL_STATUS_FILE=$final
    while :; do
        : > "$final"
        TSM_RESTART_COUNT=$restart "$@" &
        child=$!
        status=0
        wait "$child" || status=$?
        while kill -0 "$child" 2>/dev/null; do  # a signal cut the wait
            status=0
            wait "$child" || status=$?
        done
        if [ "$status" -ne 0 ] && [ -s "$final" ]; then
            status=$(head -n 1 "$final")
            echo "training stopped with status $status (2: bad input," \
                "4: a refused write): a restart would fail alike" >&2
            exit "$status"
        fi
        if [ "$status" -eq 0 ] || [ "$stopped" -eq 1 ] ||
            [ "$restart" -ge "$max" ]; then
            exit "$status"
        fi
        restart=$((restart + 1))
        echo "torchrun failed (status $status): restart $restart of $max" >&2
    done
}

launch_srun() {
    local partition=$1 job_name=$2 script=$3
    shift 3
    local gpus=${GPUS:-8}
    local gpus_per_node=${GPUS_PER_NODE:-$((gpus < 8 ? gpus : 8))}
    # --kill-on-bad-exit: one failed task stops the others instead of
    # leaving them blocked in a collective.
    # shellcheck disable=SC2086  # SRUN_ARGS is a list of options
    exec srun -p "$partition" \
        --job-name="$job_name" \
        --gres=gpu:"$gpus_per_node" \
        --ntasks="$gpus" \
        --ntasks-per-node="$gpus_per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" \
        --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} \
        "$PYTHON" -u "$script" "$@" --launcher slurm
}

case ${1:-} in
    torchrun) [ $# -ge 3 ] || usage; shift; launch_torchrun "$@" ;;
    srun) [ $# -ge 4 ] || usage; shift; launch_srun "$@" ;;
    *) usage ;;
esac
