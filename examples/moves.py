#!/usr/bin/env python3
"""What each migration of a run did to its VM's requests, read from the
run's CSV files: the terms of `ga`'s objective (docs/placement.md, "Reading
the objective in the outputs") as the outputs record them.

For every migration in `migrations.csv` it takes the VM's requests in
`requests.csv` over `--horizon-s` before the move started and over as long
after it ended, and compares the part of their delay that placement can
change: `backbone_ms` (the round trip to the host) plus `queueing_ms` (the
wait for a core there). It prints the moves, how many were followed by less
of that delay, the mean change per request, and what the moves cost (bytes,
downtime). Standard library only (Python 3.8 or newer).

    python3 examples/moves.py out/dublin-default [--horizon-s 30]

Before and after are different stretches of the trace, not the same
requests with and without the move: the device has moved on and other VMs
have moved too, so a single move can look worse afterwards and still have
been right. Over thousands of moves the mean says whether moving paid.
"""

import argparse
import csv
import os
import sys
from bisect import bisect_left


def read_moves(path):
    moves = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            start = float(row["time_s"])
            moves.append(
                {
                    "vm": row["vm"],
                    "start": start,
                    "end": start + float(row["total_ms"]) / 1e3,
                    "bytes": int(row["bytes_total"]),
                    "downtime_ms": float(row["downtime_ms"]),
                }
            )
    return moves


def read_requests(path, vms):
    """(time_s, backbone_ms + queueing_ms) of the answered requests of `vms`,
    per VM, in time order."""
    per_vm = {vm: [] for vm in vms}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            series = per_vm.get(row["vm"])
            if series is not None and row["outcome"] == "ok":
                series.append(
                    (float(row["time_s"]), float(row["backbone_ms"]) + float(row["queueing_ms"]))
                )
    for series in per_vm.values():
        series.sort()
    return per_vm


def mean_between(series, times, start, end):
    """Mean delay of the requests sent in [start, end), or None if none."""
    lo, hi = bisect_left(times, start), bisect_left(times, end)
    if lo == hi:
        return None
    return sum(d for _, d in series[lo:hi]) / (hi - lo)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run's output folder (requests.csv, migrations.csv)")
    parser.add_argument("--horizon-s", type=float, default=30.0, help="window each side (s)")
    args = parser.parse_args()
    if not args.horizon_s > 0:
        sys.exit(f"moves.py: --horizon-s must be > 0, got {args.horizon_s}")
    try:
        moves = read_moves(os.path.join(args.run, "migrations.csv"))
        per_vm = read_requests(
            os.path.join(args.run, "requests.csv"), {m["vm"] for m in moves}
        )
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"moves.py: {args.run}: {e}")
    times = {vm: [t for t, _ in series] for vm, series in per_vm.items()}

    judged, better, change_sum = 0, 0, 0.0
    for m in moves:
        series, ts = per_vm[m["vm"]], times[m["vm"]]
        before = mean_between(series, ts, m["start"] - args.horizon_s, m["start"])
        after = mean_between(series, ts, m["end"], m["end"] + args.horizon_s)
        if before is None or after is None:
            continue
        judged += 1
        better += after < before
        change_sum += after - before

    print(f"migrations: {len(moves)}")
    if moves:
        mib = sum(m["bytes"] for m in moves) / len(moves) / 2**20
        downtime = sum(m["downtime_ms"] for m in moves) / len(moves)
        print(f"cost per move: {mib:.1f} MiB sent, {downtime:.3f} ms of downtime (mean)")
    print(
        f"with requests on both sides ({args.horizon_s:g} s): {judged}; "
        f"followed by less backbone + queueing delay: {better}"
    )
    if judged:
        print(
            "backbone + queueing delay per request, after minus before (mean over moves): "
            f"{change_sum / judged:.3f} ms"
        )


if __name__ == "__main__":
    main()
