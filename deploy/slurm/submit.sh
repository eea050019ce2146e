#!/usr/bin/env bash
# Submits an mcc-emu sweep to Slurm: a job array of SHARDS tasks (one shard
# each, deploy/slurm/sweep.sbatch), then the merge (merge.sbatch) with
# --dependency=afterok on the array. Prints the two job ids.
#
#   deploy/slurm/submit.sh PLAN SHARDS OUT [sbatch options for both jobs...]
#
#   deploy/slurm/submit.sh /shared/study.toml 16 /shared/study-out --partition=short
#
# PLAN and OUT must be on a file system every node sees; relative paths are
# taken from the current folder. MCC_EMU names the binary (default `mcc-emu`
# on the nodes' PATH); REPRODUCIBLE=1 makes the merge write 0 for wall-clock
# figures. Options after OUT go to both sbatch calls (partition, account,
# time limit, --cpus-per-task, ...).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PLAN SHARDS OUT [sbatch options...]" >&2
    exit 2
fi
plan=$(realpath "$1")
shards=$2
out=$(realpath -m "$3")
shift 3
case "$shards" in
    '' | *[!0-9]*) echo "$0: SHARDS must be a whole number >= 1, got '$shards'" >&2; exit 2 ;;
esac
if [ "$shards" -lt 1 ]; then
    echo "$0: SHARDS must be >= 1, got $shards" >&2
    exit 2
fi
[ -f "$plan" ] || { echo "$0: no plan file $plan" >&2; exit 2; }
here=$(dirname "$(realpath "$0")")
mkdir -p "$out"
env_vars="ALL,PLAN=$plan,OUT=$out,SHARDS=$shards,MCC_EMU=${MCC_EMU:-mcc-emu},REPRODUCIBLE=${REPRODUCIBLE:-}"
array=$(sbatch --parsable --array="0-$((shards - 1))" --export="$env_vars" "$@" "$here/sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --export="$env_vars" "$@" "$here/merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
