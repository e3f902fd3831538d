#!/usr/bin/env bash
# Train on a SLURM cluster, one task per GPU, resumable and requeueable.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       tools/slurm_train.sh PARTITION JOB_NAME CONFIG [tools/train.py flags]
#
# Always trains with --resume (unless the flags carry their own --resume):
# the run continues from the latest checkpoint in its work dir, or starts
# fresh when there is none, so rerunning the same command, or a requeued
# job, picks up where the last one stopped. Give a fixed --work-dir.
#
# Preemption: on SIGTERM/SIGUSR1 training saves a checkpoint and exits with
# status 3 ("preempted, resumable"). Inside a batch job (sbatch, which sets
# SLURM_JOB_ID) this script then requeues the job with `scontrol requeue`;
# the requeued job reruns it and resumes. That covers the time limit
# (sbatch --signal=USR1@120 signals the tasks, not this script); a
# preemption by SLURM (SIGTERM to everything) is requeued by SLURM itself
# when the job was submitted with --requeue. Submit e.g.
#   sbatch -p PART -N 2 --ntasks-per-node 8 --gres gpu:8 --cpus-per-task 5 \
#       --signal=USR1@120 --requeue --time 24:00:00 \
#       --wrap "GPUS=16 tools/slurm_train.sh PART tsm CONFIG --work-dir DIR"
# Outside a batch job status 3 is returned: run the command again.
#
# Failures: srun has no torchrun agent to restart a failed task. With
# MAX_RESTARTS=N (default 0) this script runs the job step again, up to N
# times, after one that failed (any status but 0, 2 = bad input, 3 =
# preempted and 4 = a write the disk refused; a task that ended with 2 or 4
# says so in TSM_FINAL_STATUS_FILE, since srun reports the highest status
# of its tasks, which may be another task's kill), inside the same
# allocation: no wait in the queue. As
# tools/dist_train.sh does, it sets TSM_RESTART_COUNT / TSM_MAX_RESTARTS,
# and the tasks resume from the latest checkpoint.
set -uo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [tools/train.py flags]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREEMPTED=3  # the exit status of a preempted, resumable run
BAD_INPUT=2  # tools/train.py's status for bad input: a retry fails alike
REFUSED_WRITE=4  # a full disk or quota: a retry fails alike
MAX_RESTARTS=${MAX_RESTARTS:-0}
case $MAX_RESTARTS in
    *[!0-9]* | '')
        echo "error: MAX_RESTARTS=${MAX_RESTARTS}: expected a whole number" \
            ">= 0 (restarts after a failed job step)" >&2
        exit 2
        ;;
esac

RESUME=(--resume)
for arg in "$@"; do
    case $arg in --resume | --resume=*) RESUME=() ;; esac
done

FINAL=$(mktemp "${TMPDIR:-/tmp}/tsm_final_status.XXXXXX")
trap 'rm -f "$FINAL"' EXIT
export TSM_FINAL_STATUS_FILE=$FINAL
restart=0
while :; do
    : > "$FINAL"
    "$TOOLS/launch.sh" srun "$PARTITION" "$JOB_NAME" "$TOOLS/train.py" \
        "$CONFIG" "$@" ${RESUME[@]+"${RESUME[@]}"}
    status=$?
    if [ "$status" -ne 0 ] && [ -s "$FINAL" ]; then
        status=$(head -n 1 "$FINAL")  # a task's own status, not srun's
    fi
    case $status in
        0 | "$BAD_INPUT" | "$PREEMPTED" | "$REFUSED_WRITE") break ;;
    esac
    [ "$restart" -lt "$MAX_RESTARTS" ] || break
    restart=$((restart + 1))
    echo "training failed (status $status): restart $restart of" \
        "$MAX_RESTARTS" >&2
    export TSM_RESTART_COUNT=$restart TSM_MAX_RESTARTS=$MAX_RESTARTS
done
if [ "$status" -eq "$PREEMPTED" ]; then
    if [ -n "${SLURM_JOB_ID:-}" ] && scontrol requeue "$SLURM_JOB_ID"; then
        echo "preempted: checkpoint saved, job $SLURM_JOB_ID requeued;" \
            "it resumes from the latest checkpoint" >&2
        exit 0
    fi
    echo "preempted: checkpoint saved; run the same command again to" \
        "resume" >&2
fi
exit "$status"
