#!/usr/bin/env python3
"""Summarises `measure.py --trace` files: how QEMU's rate limiter let the
bytes out, run by run.

Usage: scripts/qemu_measure/trace_summary.py [trace.csv ...]
       (default: scripts/qemu_measure/trace-ws64.csv)

For each run it prints:
  capped     bytes sent while the migration was active (the last `active`
             poll), per second since `migrate` was sent, as a share of the
             cap: what the limiter let through
  bursts     how many times the bytes sent grew after a pause of at least
             50 ms (the limiter's 100 ms windows), and the median burst as
             a share of cap x 100 ms
  tail       MiB sent after the last `active` poll: the completion, which
             QEMU does not hold to the cap
  remaining  QEMU's `remaining` (dirty pages x 4 KiB, zero pages counted
             whole) at the last `active` poll, MiB, against the
             completion's threshold, cap x downtime-limit (300 ms)

Polls come every 5 ms, so a tail or burst is known to within one poll.
Standard library only.
"""

import csv
import os
import statistics
import sys

MIB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW_S = 0.1
DOWNTIME_LIMIT_S = 0.3
# A pause this long between growths of the bytes sent separates two bursts.
BURST_GAP_S = 0.05


def runs(path):
    """Yields (key, polls) per run; a run's polls are consecutive rows."""
    key, polls, last_t = None, [], None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            this = (row["tech"], row["WS"], row["rate"], row["BW"], row["run"])
            t = float(row["t_s"])
            if polls and (this != key or t < last_t):
                yield key, polls
                polls = []
            key, last_t = this, t
            polls.append((t, row["status"], int(row["transferred"] or 0),
                          int(row["remaining"] or 0)))
    if polls:
        yield key, polls


def summary(key, polls):
    tech, ws, rate, bw, run = key
    cap = float(bw) * MIB
    active = [p for p in polls if p[1] == "active"]
    done = [p for p in polls if p[1] == "completed"]
    if not active or not done:
        return None
    t_last, _, sent_last, remaining_last = active[-1]
    bursts, last_growth_t, last_sent = [], None, 0
    for t, _, sent, _ in active:
        if sent > last_sent:
            if last_growth_t is None or t - last_growth_t >= BURST_GAP_S:
                bursts.append(0)
            bursts[-1] += sent - last_sent
            last_growth_t, last_sent = t, sent
    return {
        "tech": tech, "WS": ws, "rate": rate, "BW": bw, "run": run,
        "capped": f"{sent_last / t_last / cap:.3f}",
        "bursts": str(len(bursts)),
        "median burst": f"{statistics.median(bursts) / (cap * WINDOW_S):.2f}",
        "tail MiB": f"{(done[0][2] - sent_last) / MIB:.2f}",
        "remaining MiB": f"{remaining_last / MIB:.2f}",
        "threshold MiB": f"{cap * DOWNTIME_LIMIT_S / MIB:.1f}",
    }


def main():
    paths = sys.argv[1:] or [os.path.join(HERE, "trace-ws64.csv")]
    lines = [s for path in paths for key, polls in runs(path)
             if (s := summary(key, polls))]
    if not lines:
        sys.exit("no completed run in " + ", ".join(paths))
    head = list(lines[0])
    widths = [max(len(h), *(len(line[h]) for line in lines)) for h in head]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    for line in lines:
        print("  ".join(line[h].rjust(w) for h, w in zip(head, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
