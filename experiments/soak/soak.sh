#!/usr/bin/env bash
# Soak benchmark (not a CI test): `mcc-emu serve` under a steady load for
# DURATION_S seconds with one cloudlet node killed (SIGKILL) in the middle
# and restarted DOWN_S seconds later; then every request is accounted for.
# See experiments/soak/README.md.
#
#   experiments/soak/soak.sh [OUT_DIR]
#
# Environment (defaults): BIN (target/release), DURATION_S (600),
# DEVICES (20), RATE (5 requests/s per device), KILL_AT_S (DURATION_S/2),
# DOWN_S (30), PORT_BASE (47100), TRACE (the bus-304 GPX trace, followed by
# every device), SPEED (5 trace seconds per second). The node killed is
# the one hosting most VMs then (its /metrics say), unless VICTIM names one.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$repo/target/release}
OUT=${1:-/tmp/mcc-soak}
DURATION_S=${DURATION_S:-600}
DEVICES=${DEVICES:-20}
RATE=${RATE:-5}
KILL_AT_S=${KILL_AT_S:-$((DURATION_S / 2))}
DOWN_S=${DOWN_S:-30}
VICTIM=${VICTIM:-}
PORT_BASE=${PORT_BASE:-47100}
TRACE=${TRACE:-$repo/topologies/traces/bus-304-limerick.gpx}
SPEED=${SPEED:-5}

for exe in mcc-emu mobile-client cloudlet; do
    [[ -x $BIN/$exe ]] || { echo "soak: no $BIN/$exe (cargo build --release first, or set BIN)" >&2; exit 2; }
done
mkdir -p "$OUT"
rm -rf "${OUT:?}/emu" "$OUT"/*.log "$OUT"/*.csv "$OUT"/*.toml "$OUT"/report.*

# The four cloudlets of small-real, each a `cloudlet` process at a fixed port.
cloudlets=(cl-south cl-city cl-east cl-ul)
declare -A port metrics pid
addresses=""
for i in "${!cloudlets[@]}"; do
    c=${cloudlets[$i]}
    port[$c]=$((PORT_BASE + i))
    metrics[$c]=$((PORT_BASE + 10 + i))
    addresses+="${addresses:+, }$c = \"http://127.0.0.1:${port[$c]}\""
done
start_node() {
    "$BIN/cloudlet" --listen "127.0.0.1:${port[$1]}" --id "$1" --cores 4 --memory-mib 1024 \
        --metrics-listen "127.0.0.1:${metrics[$1]}" >>"$OUT/node-$1.log" 2>&1 &
    pid[$1]=$!
}
cleanup() {
    for c in "${cloudlets[@]}"; do kill "${pid[$c]:-0}" 2>/dev/null || true; done
    [[ -n ${serve_pid:-} ]] && kill "$serve_pid" 2>/dev/null || true
    [[ -n ${client_pid:-} ]] && kill "$client_pid" 2>/dev/null || true
}
trap cleanup EXIT
for c in "${cloudlets[@]}"; do start_node "$c"; done

# small-real.toml with absolute paths, lost VMs restarted, the nodes above.
sed -e "s#\"small-real-topology.toml\"#\"$repo/topologies/small-real-topology.toml\"#" \
    -e "s#\"traces/#\"$repo/topologies/traces/#" \
    -e 's#^\[placement\]#[placement]\non_node_loss = "restart"#' \
    "$repo/topologies/small-real.toml" >"$OUT/scenario.toml"
printf '\n[cloudlets]\naddresses = { %s }\n' "$addresses" >>"$OUT/scenario.toml"
sleep 1

"$BIN/mcc-emu" serve "$OUT/scenario.toml" --listen 127.0.0.1:0 --spawn remote \
    --out "$OUT/emu" >"$OUT/serve.out" 2>"$OUT/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$OUT/serve.out" 2>/dev/null && break
    sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$OUT/serve.out")
[[ -n $address ]] || { echo "soak: serve did not start:" >&2; cat "$OUT/serve.log" >&2; exit 1; }

# VMs a node hosts now, from its Prometheus text.
vms_on() {
    python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines() if l.startswith("mcc_cloudlet_vms{")))' \
        "http://127.0.0.1:$1/metrics" 2>/dev/null || echo 0
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s,serve_rss_kib" >"$OUT/memory.csv"
started=$(date +%s)
"$BIN/mobile-client" --emulator "http://$address" --devices "$DEVICES" \
    --duration-s "$DURATION_S" --rate "$RATE" --seed 7 --out "$OUT/client.csv" \
    --trace "$TRACE" --speed "$SPEED" \
    >"$OUT/client.log" 2>&1 &
client_pid=$!

killed=0 restarted=0
while kill -0 "$client_pid" 2>/dev/null; do
    t=$(($(date +%s) - started))
    echo "$t,$(rss_kib "$serve_pid")" >>"$OUT/memory.csv"
    if ((killed == 0 && t >= KILL_AT_S)); then
        if [[ -z $VICTIM ]]; then
            most=-1
            for c in "${cloudlets[@]}"; do
                n=$(vms_on "${metrics[$c]}")
                echo "soak: $c hosts $n VM(s) at ${t} s" >>"$OUT/events.log"
                if ((n > most)); then most=$n VICTIM=$c; fi
            done
        fi
        kill -9 "${pid[$VICTIM]}"
        echo "soak: killed $VICTIM (pid ${pid[$VICTIM]}) at ${t} s" | tee -a "$OUT/events.log"
        killed=1
    fi
    if ((killed == 1 && restarted == 0 && t >= KILL_AT_S + DOWN_S)); then
        start_node "$VICTIM"
        echo "soak: restarted $VICTIM (pid ${pid[$VICTIM]}) at ${t} s" | tee -a "$OUT/events.log"
        restarted=1
    fi
    sleep 5
done
wait "$client_pid" || echo "soak: mobile-client exited with $?" | tee -a "$OUT/events.log"
client_pid=
echo "$(($(date +%s) - started)),$(rss_kib "$serve_pid")" >>"$OUT/memory.csv"
kill -TERM "$serve_pid"
wait "$serve_pid" || echo "soak: serve exited with $?" | tee -a "$OUT/events.log"
serve_pid=

python3 "$repo/experiments/soak/account.py" "$OUT" | tee "$OUT/report.txt"
