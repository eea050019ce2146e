#!/usr/bin/env python3
"""A page-by-page sketch of QEMU 7.2's copy passes against a round-robin writer.

mcc-emu's migration model keeps pages as counts per region: it does not know
where in the address space a page lies, where the guest's writer stands, or
where QEMU's scan stands. This sketch does, for the guest of the calibration
data (data/qemu/README.md; scripts/qemu_measure/), to show what those
positions do to the bytes a migration sends and when its passes end. It is an
analysis tool, not part of the model: nothing in mcc-emu reads it.

What it follows, page by page:
- Memory: 512 MiB (131,072 frames). The working set lies in one ascending
  stretch from frame 10,240, as `/proc/self/pagemap` showed in every run
  measured here (the `layout` column of scripts/qemu_measure/runs-*.csv);
  the other non-zero pages (idle data) lie where --idle-layout puts them,
  since nothing measured says where; the rest are zero pages.
- Wire: 4,104 bytes a normal page, 9 a zero page (8-byte header + 1).
- The writer dirties page (start + i) mod W at the configured rate; it
  starts where the measured runs' writer stood when `migrate` was sent:
  (rate x 3 s warm-up) mod W (9,464 at 25,000 pages/s against 9,396-9,510
  measured; 7,500 at 2,500 pages/s against 7,495-7,504).
- QEMU's rate limit: in each 100 ms window (BUFFER_DELAY) the migration
  thread sends up to cap x efficiency x 0.1 s at the link's 1.2 GB/s, then
  waits for the next window. The efficiency is 1 by default: traced here
  (scripts/qemu_measure/trace-ws64.csv), each window carried exactly its
  budget, 0.998-1.002 x the cap over a run; the pre-copy cancelled at
  120 s moved 3,838.7 MiB in 120.03 s, 1.00 x the cap. (The stop rows'
  1.07-1.08 x over the whole copy is the completion's uncapped tail, which
  this sketch, counting bytes and syncs, does not need.) The first pass
  and the later ones may be given different efficiencies.
- The scan sends the bitmap's pages in address order and goes on from where
  it stood after a dirty-bitmap sync (QEMU keeps last_seen_block/last_page);
  --restart-scan restarts it at frame 0 instead.
- The pass ends QEMU 7.2's way (ram_save_pending): when what is left, in
  whole pages, is below bandwidth x 300 ms, the bitmap is synced (the pages
  dirtied since the last sync join it); the migration completes when what is
  left after the sync is below it too. The check falls once per window (the
  thread iterates once a window when the cap binds), or every millisecond
  with --check-every-ms.
- Hybrid switches at the third sync ("pass 3 begins", as the data's harness).

It prints, per configuration, the syncs (as QEMU counts them: one more at
the stop or the switch), the MiB sent before the switch or stop, and the MiB
in all, beside the medians of the runs measured here with the model's guest
and the released medians.
"""

import argparse
import csv
import random
import statistics

# The model's guest, as the calibration replays it.
from calibrate_qemu import (GUEST_MEMORY_MIB, MIB, PAGE, RELEASED_CSV, SAME_GUEST_PAGES,
                            guest_zero_pages)

NORMAL_WIRE = PAGE + 8
ZERO_WIRE = 9
FRAMES = GUEST_MEMORY_MIB * MIB // PAGE
WS_FIRST_FRAME = 10_240
LINK_BYTES_PER_S = 1.2e9
WINDOW_S = 0.1
DOWNTIME_LIMIT_S = 0.3
WARMUP_S = 3.0
STEP_S = 0.001
CANCEL_S = 120.0

CONFIGS = [
    ("precopy", 2500, 32), ("precopy", 2500, 100), ("precopy", 25000, 32),
    ("precopy", 25000, 100), ("hybrid", 2500, 32), ("hybrid", 2500, 100),
    ("hybrid", 25000, 32), ("hybrid", 25000, 100),
]


def layout(ws_pages, idle_layout, seed):
    """Per frame: 0 zero page, 1 idle data, 2 working set."""
    kind = bytearray(FRAMES)
    for frame in range(WS_FIRST_FRAME, WS_FIRST_FRAME + ws_pages):
        kind[frame] = 2
    others = [f for f in range(FRAMES) if kind[f] == 0]
    # The guest's other non-zero pages.
    idle = FRAMES - guest_zero_pages(ws_pages * PAGE // MIB) - ws_pages
    if idle_layout == "random":
        chosen = random.Random(seed).sample(others, idle)
    elif idle_layout == "low":
        chosen = others[:idle]
    else:
        chosen = others[-idle:]
    for frame in chosen:
        kind[frame] = 1
    return kind


def migrate(tech, rate, cap_mib, args, ws_pages=16_384):
    kind = layout(ws_pages, args.idle_layout, args.seed)
    wire = (ZERO_WIRE, NORMAL_WIRE, NORMAL_WIRE)
    cap_first = cap_mib * 1024 * 1024 * args.first_pass_efficiency
    cap_later = cap_mib * 1024 * 1024 * args.efficiency
    bitmap = bytearray(b"\x01") * FRAMES
    dirty_log = bytearray(FRAMES)
    pending = FRAMES
    scan = 0
    writer = (rate * WARMUP_S) % ws_pages
    syncs = 1  # the setup's
    sent = 0
    t = 0.0
    window_start = -WINDOW_S
    window_bytes = 0.0

    def left_bytes():
        return sum(wire[kind[f]] for f in range(FRAMES) if bitmap[f])

    while t < CANCEL_S:
        cap = cap_first if syncs == 1 else cap_later
        # QEMU's threshold: the bandwidth it measures x downtime-limit.
        threshold = cap * DOWNTIME_LIMIT_S
        if t >= window_start + WINDOW_S - 1e-9:
            window_start, window_bytes = t, 0.0
        if window_bytes == 0.0 or args.check_every_ms:
            if pending * PAGE < threshold:
                for f in range(FRAMES):
                    if dirty_log[f]:
                        if not bitmap[f]:
                            bitmap[f] = 1
                            pending += 1
                        dirty_log[f] = 0
                syncs += 1
                if pending * PAGE < threshold:
                    # QEMU syncs once more as it completes.
                    return ("completed", syncs + 1, sent, sent + left_bytes())
                if args.restart_scan:
                    scan = 0
                if tech == "hybrid" and syncs == 3:
                    # QEMU syncs once more at the post-copy switch.
                    return ("switched", syncs + 1, sent, sent + left_bytes())
        budget = min(LINK_BYTES_PER_S * STEP_S, cap * WINDOW_S - window_bytes)
        while budget > 0 and pending > 0:
            while not bitmap[scan]:
                scan = (scan + 1) % FRAMES
            cost = wire[kind[scan]]
            bitmap[scan] = 0
            pending -= 1
            sent += cost
            window_bytes += cost
            budget -= cost
        before = int(writer)
        writer += rate * STEP_S
        for page in range(before, int(writer)):
            dirty_log[WS_FIRST_FRAME + page % ws_pages] = 1
        t += STEP_S
    return ("cancelled", syncs, sent, sent)


def measured(path, released_path):
    """Median MiB of the runs here with the model's guest, and the released rows."""
    here = {}
    for run in csv.DictReader(open(path, newline="")):
        same_guest = abs(float(run["zero_pg"]) - guest_zero_pages(64)) <= SAME_GUEST_PAGES
        if run["status"] not in ("completed", "cancelled") or not same_guest:
            continue
        here.setdefault((run["tech"], int(run["rate"]), int(run["BW"])), []).append(run)
    released = {(r["tech"], int(r["rate"]), int(r["BW"])): r
                for r in csv.DictReader(open(released_path, newline=""))}
    return here, released


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle-layout", choices=("random", "low", "high"), default="random",
                    help="where the non-zero pages outside the working set lie")
    ap.add_argument("--check-every-ms", action="store_true",
                    help="check what is left every ms instead of once a window")
    ap.add_argument("--restart-scan", action="store_true",
                    help="restart the scan at frame 0 after each sync")
    ap.add_argument("--first-pass-efficiency", type=float, default=1.0,
                    help="the limiter over the cap in the first pass")
    ap.add_argument("--efficiency", type=float, default=1.0,
                    help="the limiter over the cap in the later passes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", default="scripts/qemu_measure/runs-ws64.csv")
    ap.add_argument("--released", default=RELEASED_CSV)
    args = ap.parse_args()
    here, released = measured(args.runs, args.released)
    print("tech      rate   BW  outcome    syncs  MiB before  MiB all | here: syncs  before  all"
          "     | released: before  all")
    for tech, rate, bw in CONFIGS:
        outcome, syncs, before, total = migrate(tech, rate, bw, args)
        runs = here.get((tech, rate, bw), [])
        if runs:
            h_syncs = statistics.median(float(r["syncs"]) for r in runs)
            h_before = statistics.median(float(r["pre_MiB"]) for r in runs)
            h_all = statistics.median(float(r["xfer_MiB"]) for r in runs)
            here_text = f"{h_syncs:5.0f}  {h_before:6.1f}  {h_all:6.1f}"
        else:
            here_text = f"{'-':>5}  {'-':>6}  {'-':>6}"
        rel = released.get((tech, rate, bw))
        rel_text = (f"{float(rel['pre_MiB']):6.1f}  {float(rel['xfer_MiB']):6.1f}"
                    if rel else "     -       -")
        print(f"{tech:8} {rate:5} {bw:4}  {outcome:9} {syncs:5}  {before / 2**20:10.1f}  "
              f"{total / 2**20:7.1f} |       {here_text} |           {rel_text}")


if __name__ == "__main__":
    main()
