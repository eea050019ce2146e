#!/usr/bin/env python3
"""Replays QEMU 7.2's pre-copy loop page by page for the guest of data/qemu/,
to show what page order does to the rows the count model misses.

Usage: scripts/qemu_pass_replay.py [--phases 10]

Not part of the model and not a calibration: a check of one explanation. The
guest's 64 MiB working set is written round-robin in address order, starting
at a phase (a fraction of the working set) that the data does not record.
QEMU's loop as replayed here: every 100 ms window (`BUFFER_DELAY`) it checks
what is dirty, in whole pages, against the bandwidth of the last window times
the 300 ms downtime limit; below it, it syncs the dirty log into the bitmap
(`ram_save_pending`) and completes if what is then dirty is still below it;
a hybrid switches at the first check after the third sync ("pass 3 begins",
data/qemu README). Otherwise it sends dirty pages in address order from where
it stopped, up to the cap's bytes for the window (1.075 x the cap, 4,104
bytes a normal page, 9 a zero page). Standard library only.
"""

import argparse

MIB = 1024 * 1024
WS_PAGES = 16_384            # 64 MiB
OTHER_PAGES = 36_241 - WS_PAGES  # non-zero pages outside the working set (data: normal_pg)
ZERO_PAGES = 94_959          # data: zero_pg, median over rows
PAGES = OTHER_PAGES + WS_PAGES + ZERO_PAGES
WINDOW_S = 0.1               # QEMU's BUFFER_DELAY
DOWNTIME_S = 0.3             # the data's downtime-limit
SETUP_S = 0.33               # the calibration's setup
CAP_EFFICIENCY = 1.075       # the calibration's
NORMAL_BYTES, ZERO_BYTES = 4104, 9
CANCEL_S = 120.0             # the data's harness cancels at 120 s

# Rows of data/qemu/qemu72-migrations-ws64.csv the count model misses or
# that share their mechanism: (technique, pages/s, MiB/s, what QEMU did).
ROWS = [
    ("precopy", 25000, 100, "531.2 MiB, 30 syncs"),
    ("hybrid", 25000, 100, "180.1 + 35.3 MiB"),
    ("hybrid", 2500, 32, "169.7 + 16.1 MiB"),
    ("hybrid", 25000, 32, "201.7 + 61.5 MiB"),
    ("precopy", 2500, 32, "200.6 MiB, 6 syncs"),
]


def replay(tech, rate, cap_mibps, phase):
    """One migration; returns a short text of what was sent."""
    ws_start = OTHER_PAGES  # the working set after the other data, zero pages last
    normal = bytearray(PAGES)
    normal[:OTHER_PAGES + WS_PAGES] = b"\x01" * (OTHER_PAGES + WS_PAGES)
    budget = cap_mibps * MIB * CAP_EFFICIENCY * WINDOW_S
    bitmap = bytearray(b"\x01") * PAGES  # the setup's first sync: everything
    log = bytearray(PAGES)
    writer = (rate * SETUP_S + phase * WS_PAGES) % WS_PAGES
    t, syncs, sent, scan, last_window_bytes, third_sync = SETUP_S, 1, 0, 0, budget, False

    def sync():
        nonlocal bitmap, log, syncs
        merged = int.from_bytes(bitmap, "big") | int.from_bytes(log, "big")
        bitmap, log, syncs = bytearray(merged.to_bytes(PAGES, "big")), bytearray(PAGES), syncs + 1

    def dirty_mib():
        return sum(NORMAL_BYTES if normal[i] else ZERO_BYTES
                   for i in range(PAGES) if bitmap[i]) / MIB

    while t < CANCEL_S:
        threshold = last_window_bytes / WINDOW_S * DOWNTIME_S
        if third_sync:
            sync()
            return f"{sent / MIB:.0f} + {dirty_mib():.1f} MiB"
        if bitmap.count(1) * 4096 < threshold:
            sync()
            if bitmap.count(1) * 4096 < threshold:
                return f"{(sent / MIB + dirty_mib()):.0f} MiB, {syncs + 1} syncs"
            third_sync = tech == "hybrid" and syncs >= 3
        used = 0
        while used < budget:
            page = bitmap.find(1, scan)
            if page < 0:
                page = bitmap.find(1, 0)
                if page < 0:
                    break
            bitmap[page] = 0
            scan = page + 1
            used += NORMAL_BYTES if normal[page] else ZERO_BYTES
        sent += used
        last_window_bytes = used or last_window_bytes
        # The writer's pages of this window go to the dirty log.
        written = rate * WINDOW_S
        if written >= WS_PAGES:
            log[ws_start:ws_start + WS_PAGES] = b"\x01" * WS_PAGES
        else:
            first, last = int(writer), int(writer + written)
            for lo, hi in ((first, min(last + 1, WS_PAGES)), (0, max(0, last + 1 - WS_PAGES))):
                log[ws_start + lo:ws_start + hi] = b"\x01" * (hi - lo)
        writer = (writer + written) % WS_PAGES
        t += WINDOW_S
    return "cancelled"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", type=int, default=10,
                    help="starting phases of the writer to try, evenly spread")
    args = ap.parse_args()
    for tech, rate, cap, real in ROWS:
        print(f"{tech} {rate} pages/s {cap} MiB/s (QEMU: {real})")
        for k in range(args.phases):
            phase = k / args.phases
            print(f"  phase {phase:.2f}: {replay(tech, rate, cap, phase)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
