#!/usr/bin/env bash
# Job status for snakemake-executor-plugin-cluster-generic on SLURM without accounting:
# prints running, success or failed for the job id sbatch --parsable gave ("id" or "id;cluster").
# Adapt for other schedulers (qstat, bjobs). A cancelled job is reported failed, so snakemake
# stops (or retries) instead of waiting for a completion marker that never comes.
set -u
jobid=${1%%;*}
if ! state=$(squeue -h -t all -j "$jobid" -o %T 2>/dev/null); then
    echo running  # the controller did not answer: ask again at the next check
    exit 0
fi
case "${state%%$'\n'*}" in
    COMPLETED) echo success ;;
    PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | REQUEUED | RESIZING | STAGE_OUT)
        echo running ;;
    *) echo failed ;;  # CANCELLED, FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, or unknown
esac
