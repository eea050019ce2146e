#!/usr/bin/env bash
# Cloudlet nodes on hosts of their own, as near as one machine gets: two
# network namespaces ("host-a", "host-b"), each with its own network stack
# and a veth link to this one, with no route between the two. Two of
# small-real's cloudlet nodes run in each; mcc-emu runs here and reaches
# them by a node list of their veth addresses (--spawn remote). The run
# must complete with a round trip measured to every node and no migration
# failed. That shows what loopback cannot: the nodes reach the relay at the
# address mcc-emu has on *their* link (not 127.0.0.1), and calls between
# two nodes go through the relay (host-a cannot reach host-b directly).
# Everything it creates (namespaces, links, processes, the temporary folder)
# is removed whatever happens.
#
#   deploy/netns/test-separate-hosts.sh
#
# Needs root and iproute2 (`ip netns`). MCC_EMU names the mcc-emu binary
# (default: the debug build, built if needed), CLOUDLET the cloudlet
# binary beside it. Exit status 0 only if the run completed as above.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (it creates network namespaces)" >&2
    exit 2
fi
if ! command -v ip >/dev/null; then
    echo "$0: needs iproute2's ip" >&2
    exit 2
fi
if [ -z "${MCC_EMU:-}" ]; then
    (cd "$repo" && cargo build -q -p mcc-emu -p mcc-cloudlet --locked)
    MCC_EMU=$repo/target/debug/mcc-emu
fi
CLOUDLET=${CLOUDLET:-$(dirname "$MCC_EMU")/cloudlet}

# Names unique to this run, so two runs (or a stale one) do not collide.
tag=mcc$$
tmp=$(mktemp -d /tmp/mcc-netns.XXXXXX)
pids=()
cleanup() {
    local status=$?
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    # Deleting a namespace deletes its end of the veth pair, and with it ours.
    for host in a b; do ip netns del "$tag-$host" 2>/dev/null; done
    rm -rf "$tmp"
    exit $status
}
trap cleanup EXIT INT TERM

# host-a: 10.231.1.2, reached from here at 10.231.1.1; host-b: 10.231.2.x.
# /30 links, one per host: neither host has a route to the other.
for k in 1 2; do
    host=$([ $k = 1 ] && echo a || echo b)
    ns=$tag-$host
    ip netns add "$ns"
    ip link add "$tag-h$host" type veth peer name "$tag-n$host"
    ip link set "$tag-n$host" netns "$ns"
    ip addr add "10.231.$k.1/30" dev "$tag-h$host"
    ip link set "$tag-h$host" up
    ip -n "$ns" addr add "10.231.$k.2/30" dev "$tag-n$host"
    ip -n "$ns" link set "$tag-n$host" up
    ip -n "$ns" link set lo up
done

# small-real's four cloudlets: cl-south and cl-east on host-a, cl-city and
# cl-ul on host-b (cl-east and cl-ul share a site, 0.1 ms apart in the
# topology, so their calls cross both links and the relay).
nodes=$tmp/nodes.txt
cat >"$nodes" <<EOF
# cloudlet  address
cl-south    http://10.231.1.2:50051
cl-east     http://10.231.1.2:50052
cl-city     http://10.231.2.2:50051
cl-ul       http://10.231.2.2:50052
EOF
index=0
while read -r name address; do
    case "$name" in '#'* | '') continue ;; esac
    case "$address" in
        http://10.231.1.*) host=a ;;
        *) host=b ;;
    esac
    ip netns exec "$tag-$host" "$CLOUDLET" --node-list "$nodes" --index "$index" \
        --cores 4 --memory-mib 1024 >"$tmp/node-$name.log" 2>&1 &
    pids+=($!)
    index=$((index + 1))
done <"$nodes"

deadline=$(($(date +%s) + 60))
while read -r name address; do
    case "$name" in '#'* | '') continue ;; esac
    hostport=${address#http://}
    until (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; do
        if [ "$(date +%s)" -gt "$deadline" ]; then
            echo "$0: the node of $name at $address did not come up:" >&2
            cat "$tmp/node-$name.log" >&2
            exit 1
        fi
        sleep 0.2
    done
done <"$nodes"

# The two hosts cannot reach each other: what crosses between them is the
# relay's doing.
if ip netns exec "$tag-a" bash -c '(exec 3<>/dev/tcp/10.231.2.2/50051)' 2>/dev/null; then
    echo "$0: host-a reaches host-b directly; the test would not show the relay" >&2
    exit 1
fi

# small-real cut to 60 s of scenario at speed 20, as the Slurm test runs it.
sed -e "s|^duration_s = 240|duration_s = 60|" \
    -e "s|\"small-real-topology.toml\"|\"$repo/topologies/small-real-topology.toml\"|" \
    -e "s|\"traces/|\"$repo/topologies/traces/|" \
    "$repo/topologies/small-real.toml" >"$tmp/remote.toml"
"$MCC_EMU" run "$tmp/remote.toml" --clock real --spawn remote --node-list "$nodes" \
    --speed 20 --out "$tmp/out" --json >"$tmp/summary.json"

python3 - "$tmp/summary.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
real = summary["real_clock"]
assert real["nodes"] == "remote", real
rtt = real["node_rtt_ms"]
assert sorted(rtt) == ["cl-city", "cl-east", "cl-south", "cl-ul"], real
assert all(v > 0 for v in rtt.values()), rtt
assert real["migrations_failed"] == 0, real
assert summary["requests"] > 0 and summary["migrations"] > 0, summary
print("round trips to the nodes (ms):", rtt)
print("excess between node pairs (ms):", real.get("node_path_excess_ms", {}))
print("requests", summary["requests"], "failed", summary["failed"],
      "migrations", summary["migrations"])
PY
echo "netns-hosts: 1 passed, 0 failed"
