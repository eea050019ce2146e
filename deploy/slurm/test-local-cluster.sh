#!/usr/bin/env bash
# A real Slurm test on this machine: a single-node cluster (munged,
# slurmctld, slurmd) on a generated configuration in a temporary folder runs
# a small sweep as a job array of shards, then the dependent merge job
# (deploy/slurm/submit.sh); the merged comparison must be byte-identical to
# the same sweep run on one machine. Then a real-clock run whose cloudlet
# nodes are Slurm tasks (deploy/slurm/cloudlets.sbatch) must complete with a
# round trip measured to every node. Every daemon it started is stopped, by
# its pid file, whatever happens.
#
#   deploy/slurm/test-local-cluster.sh [PLAN] [SHARDS]
#
# Defaults: emulator/tests/data/sweeps/small-axes.toml (32 runs), 3 shards.
# Needs root (it installs slurm-wlm and munge from Debian when missing, and
# runs the daemons as root). MCC_EMU names the mcc-emu binary (default: the
# debug build, built if needed). TIMEOUT_S bounds the wait (default 300).
# Prints the time each phase took. Exit status 0 only if the bytes agree.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
plan=$(realpath "${1:-$repo/emulator/tests/data/sweeps/small-axes.toml}")
shards=${2:-3}
timeout_s=${TIMEOUT_S:-300}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
started=$(now_ms)
# Seconds since the start, one decimal.
seconds() { local ms=$1; printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
elapsed() { seconds $(($(now_ms) - started)); }
say() { echo "== [$(elapsed) s] $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (it starts munged, slurmctld and slurmd)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

if [ -z "${MCC_EMU:-}" ]; then
    (cd "$repo" && cargo build -q -p mcc-emu -p mcc-cloudlet --locked)
    MCC_EMU=$repo/target/debug/mcc-emu
fi
CLOUDLET=${CLOUDLET:-$(dirname "$MCC_EMU")/cloudlet}
export MCC_EMU CLOUDLET

tmp=$(mktemp -d /tmp/mcc-slurm.XXXXXX)
jobs_submitted=()
cleanup() {
    local status=$?
    set +e
    if [ ${#jobs_submitted[@]} -gt 0 ] && [ -f "$tmp/slurmctld.pid" ]; then
        scancel "${jobs_submitted[@]}" 2>/dev/null
        sleep 1
    fi
    # The daemons this script started, by their pid files, newest first.
    for daemon in slurmd slurmctld munged; do
        local pidfile="$tmp/$daemon.pid"
        [ -s "$pidfile" ] || continue
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
    done
    if [ $status -ne 0 ]; then
        echo "--- logs in $tmp (kept) ---" >&2
        for log in "$tmp"/*.log "$tmp"/work/*.out; do
            [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
        done
    else
        rm -rf "$tmp"
    fi
    exit $status
}
trap cleanup EXIT INT TERM

node=$(hostname -s)
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/work"
chmod 700 "$tmp"

say "munged with a generated key in $tmp"
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" \
    --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munge.seed"
for _ in $(seq 50); do [ -S "$tmp/munge.sock" ] && break; sleep 0.1; done
munge --socket="$tmp/munge.sock" -n | unmunge --socket="$tmp/munge.sock" >/dev/null

hardware=$(slurmd -C | head -n 1)
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hardware")
cat >"$tmp/slurm.conf" <<EOF
ClusterName=mcctest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$tmp/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
EOF
: >"$tmp/plugstack.conf"
export SLURM_CONF=$tmp/slurm.conf

say "slurmctld (port $ctld_port) and slurmd (node $node, $cpus CPUs, port $slurmd_port)"
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$node"
deadline=$(($(date +%s) + 60))
until [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "$0: the node did not become idle in 60 s: $(sinfo -h -n "$node" -o '%T %E' 2>&1)" >&2
        exit 1
    fi
    sleep 0.5
done
cluster_up=$(($(now_ms) - started))

say "submitting $plan as $shards shards and the merge"
cd "$tmp/work"
read -r array merge < <(REPRODUCIBLE=1 "$repo/deploy/slurm/submit.sh" "$plan" "$shards" "$tmp/work/out")
jobs_submitted=("$array" "$merge")
say "array job $array, merge job $merge (afterok:$array)"
deadline=$(($(date +%s) + timeout_s))
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' '; }
while :; do
    merge_state=$(state "$merge")
    case "$merge_state" in
        "COMPLETED ") break ;;
        *FAILED* | *CANCELLED* | *TIMEOUT* | *NODE_FAIL* | *OUT_OF_MEMORY*)
            echo "$0: merge job $merge ended $merge_state; shards: $(state "$array")" >&2
            exit 1 ;;
    esac
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "$0: not done in $timeout_s s: shards $(state "$array"), merge $merge_state" >&2
        exit 1
    fi
    sleep 0.5
done
array_state=$(state "$array")
[ "$array_state" = "COMPLETED " ] || { echo "$0: shards ended $array_state" >&2; exit 1; }
say "every shard and the merge COMPLETED"
on_slurm=$(($(now_ms) - started))

say "the same sweep on one machine"
"$MCC_EMU" sweep "$plan" --out "$tmp/one" --reproducible >/dev/null 2>"$tmp/one.log"
compared=0
while IFS= read -r -d '' file; do
    rel=${file#"$tmp/one/"}
    if ! cmp -s "$file" "$tmp/work/out/$rel"; then
        echo "$0: $rel differs between one machine and the Slurm merge" >&2
        exit 1
    fi
    compared=$((compared + 1))
done < <(find "$tmp/one" \( -name 'comparison.*' -o -name '*.svg' \) -print0)
[ "$compared" -gt 0 ] || { echo "$0: nothing to compare" >&2; exit 1; }
say "byte-identical: $compared files (comparison.json, comparison.csv, plots)"
swept=$(now_ms)

# Cloudlet nodes as Slurm tasks (deploy/slurm/cloudlets.sbatch): small-real cut
# to 60 s of scenario at speed 20, its four cloudlets one task each (on the
# one node here: --overcommit), mcc-emu on the batch step reaching them by
# the node list.
sed -e "s|^duration_s = 240|duration_s = 60|" \
    -e "s|\"small-real-topology.toml\"|\"$repo/topologies/small-real-topology.toml\"|" \
    -e "s|\"traces/|\"$repo/topologies/traces/|" \
    "$repo/topologies/small-real.toml" >"$tmp/work/remote.toml"
real_job=$(sbatch --parsable --ntasks=4 --overcommit \
    --export="ALL,SCENARIO=$tmp/work/remote.toml,CLOUDLETS=cl-south cl-city cl-east cl-ul,OUT=$tmp/work/real,SPEED=20,PORT=$(free_port),CORES=4,MEMORY_MIB=1024" \
    "$repo/deploy/slurm/cloudlets.sbatch")
real_job=${real_job%%;*}
jobs_submitted+=("$real_job")
say "real-clock job $real_job: four cloudlet tasks and the run"
deadline=$(($(date +%s) + timeout_s))
until [ "$(state "$real_job")" = "COMPLETED " ]; do
    case "$(state "$real_job")" in
        *FAILED* | *CANCELLED* | *TIMEOUT* | *NODE_FAIL* | *OUT_OF_MEMORY*)
            echo "$0: real-clock job $real_job ended $(state "$real_job")" >&2
            exit 1 ;;
    esac
    if [ "$(date +%s)" -gt "$deadline" ]; then
        echo "$0: real-clock job not done in $timeout_s s: $(state "$real_job")" >&2
        exit 1
    fi
    sleep 0.5
done
python3 - "$tmp/work/real/run-summary.json" <<'PY'
import json, sys
real = json.load(open(sys.argv[1]))["real_clock"]
assert real["nodes"] == "remote", real
assert sorted(real["node_rtt_ms"]) == ["cl-city", "cl-east", "cl-south", "cl-ul"], real
assert real["migrations_failed"] == 0, real
print("round trips to the nodes (ms):", real["node_rtt_ms"])
PY
say "the real-clock run on Slurm tasks COMPLETED, every node measured"
echo "timing: cluster up $(seconds "$cluster_up") s, submitted to merged $(seconds $((on_slurm - cluster_up))) s, real-clock job $(seconds $(($(now_ms) - swept))) s, total $(elapsed) s"
echo "slurm-local: 2 passed, 0 failed"
