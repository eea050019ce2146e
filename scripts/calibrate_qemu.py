#!/usr/bin/env python3
"""Replays every row of the real QEMU migrations (data/qemu/*.csv) with
`mcc-emu migrate` and prints model against measurement.

Usage: scripts/calibrate_qemu.py [--bin target/release/mcc-emu]
                                 [--csv data/qemu/qemu72-migrations-ws64.csv]
                                 [--markdown] [--split]
                                 [--pass-end drained|below-target]
                                 [--row-zero-pages]
                                 [--runs scripts/qemu_measure/runs-ws64.csv]
                                 [--windows] [--check]

--split adds a second table for the rows that switched to post-copy: bytes
sent before and after the switch and the faults, model against measurement.
--pass-end replays with the other rule for the end of a copy round.
--row-zero-pages is a check, not the calibration: each row's guest gets the
zero pages that row counted (zero_pg) instead of the median over all rows.
--runs adds every configuration measured run by run here
(scripts/qemu_measure/measure.py), the released ones and other working
sets, against the runs whose guest had the model's zero pages (see
measured_here below).
--windows replays with QEMU's 100 ms rate-limit windows and the parameters
fitted for them (GLOBAL_WINDOWS below).
--check exits with status 1 unless the table meets the targets of
docs/migration.md: stall and verdict on every row, the pre-copy and
stop-and-copy times, and bytes on every row whose runs had the model's
guest, except the one whose runs disagree with each other (RUNS_DISAGREE).

Standard library only. Every row is replayed with the same global
parameters (GLOBAL below): nothing is tuned per row. A row's own columns
give only what describes the experiment: technique, working set, dirty rate
and bandwidth cap (and, for hybrid, the switch after two passes).
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

MIB = 1024 * 1024
PAGE = 4096

# The guest and the host of data/qemu/README.md.
GUEST_MEMORY_MIB = 512
# Zero pages the data counts in every run (zero_pg, median over rows): what
# /init leaves untouched.
GUEST_ZERO_PAGES = 94_959
# The 64 MiB working set's pages are not zero; with another working set the
# guest's other non-zero pages stay as many.
DATA_WORKING_SET_MIB = 64
# Runs whose zero pages lie this close to the model's guest's had its memory
# layout; the guest's other layouts have 1,100-2,300 more (docs/migration.md).
SAME_GUEST_PAGES = 500
# Loopback: the stop phase runs at ~1.2 GB/s (README, "What the data says").
LINK_MBPS = 1.2e9 * 8 / 1e6
LINK_LATENCY_MS = 0.05

# Linux's page array (a 64-byte `struct page` per 4 KiB page), which
# memblock allocates top-down: the data at the top of guest memory, which
# QEMU's pass reaches last (the traces end on 6-9 MiB of data at 32 MiB/s).
TOP_DATA_MIB = GUEST_MEMORY_MIB / 64

# Global parameters, the same for every row (see docs/migration.md). Only
# the execution set is fitted (on the 12 post-copy and hybrid rows); the
# rest is QEMU's, Linux's or measured.
GLOBAL = {
    "setup_ms": 330.0,        # README: setup-time 0.2-0.7 s; median of setup_ms
    "sync_ms": 10.0,          # TCG's bitmap sync per pass: assumed (0-10 ms fit alike)
    "resume_ms": 20.0,        # target start after the last byte (TCG re-translation)
    "queue_kib": 4096.0,      # bytes queued ahead of a fault: Linux's send buffer
    "page_header_bytes": 8,   # QEMU: 8-byte page header (README: 4,104 bytes a page)
    "top_data_mib": TOP_DATA_MIB,
    "exec_text_pages": 50,    # read-only pages the guest needs to progress
    "exec_data_pages": 10,    # written pages the guest needs to progress
    # The data pages are the kernel's own, written at this many pages/s
    # outside the working set (None: they lie in the working set).
    "exec_data_write_rate_pps": 7.0,
    "cpu_state_kib": 256.0,
    # QEMU's rate limiter works in windows of BUFFER_DELAY = 100 ms
    # (migration/migration.c); None: the model paces the cap evenly.
    "cap_window_ms": None,
    # When a copy round ends: QEMU 7.2's rule, a sync once what is left of
    # the pass (whole pages) is below bandwidth x downtime-limit.
    # --pass-end drained compares the model's other rule.
    "pass_end": "below-target",
}

# The same with QEMU's rate-limit windows (--windows): a faulted page
# requested after a window's budget has gone out waits for the next window.
# The execution set was fitted again on the same 12 post-copy and hybrid
# rows by the same rule (docs/migration.md).
GLOBAL_WINDOWS = dict(
    GLOBAL,
    cap_window_ms=100.0,
    exec_text_pages=50,
    exec_data_pages=80,
    exec_data_write_rate_pps=10.0,
)

# The released data (data/qemu/ in this repository, with its README).
RELEASED_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                            "data", "qemu", "qemu72-migrations-ws64.csv")

# Released rows whose own runs disagree by more than the bytes target: at
# lambda ~ 0.98 the passes hang on timing (236-730 MiB over six runs here of
# this configuration; docs/migration.md). --check does not hold their bytes.
RUNS_DISAGREE = {("precopy", "25000", "100")}

# Targets of the issue: stall within 30 % or 20 ms, total time within 5 %
# (median), bytes within 5 %.
STALL_REL, STALL_ABS_MS, TIME_REL, BYTES_REL = 0.30, 20.0, 0.05, 0.05

TECHNIQUE = {
    "precopy": "pre-copy",
    "postcopy": "post-copy",
    "hybrid": "hybrid",
    "stop": "stop-and-copy",
}


def guest_zero_pages(ws_mib):
    """The zero pages of the data's guest with a working set of ws_mib."""
    return GUEST_ZERO_PAGES + (DATA_WORKING_SET_MIB - ws_mib) * MIB // PAGE


def flags(row, g, row_zero_pages=False):
    ws = float(row["WS"])
    # The cap itself: while capped, the traces here moved 0.998-1.002 x it
    # (scripts/qemu_measure/trace-ws64.csv).
    cap_mbps = float(row["BW"]) * MIB * 8 / 1e6
    zero_pages = float(row["zero_pg"]) if row_zero_pages else guest_zero_pages(ws)
    zero_fraction = zero_pages / (GUEST_MEMORY_MIB * MIB / PAGE)
    tech = TECHNIQUE[row["tech"]]
    # QEMU has no round limit; the harness cancels at 120 s. Hybrid rows switch
    # after two passes.
    max_rounds = 2 if tech == "hybrid" else 10_000
    return [
        "--technique", tech,
        "--memory-mib", str(GUEST_MEMORY_MIB),
        "--working-set-mib", str(ws),
        "--dirty-rate-pps", row["rate"],
        "--dirty-model", "linear",  # round-robin writes: min(d*t, W) distinct pages
        "--zero-fraction", repr(zero_fraction),
        "--bandwidth-mbps", repr(LINK_MBPS),
        "--latency-ms", repr(LINK_LATENCY_MS),
        "--rate-cap-mbps", repr(cap_mbps),
        "--cap-scope", "except-completion",
        "--max-rounds", str(max_rounds),
        "--pass-end", g["pass_end"],
        "--downtime-target-ms", "300",
        "--request-rate", "0",
        "--setup-ms", repr(g["setup_ms"]),
        "--sync-ms", repr(g["sync_ms"]),
        "--resume-ms", repr(g["resume_ms"]),
        "--queue-kib", repr(g["queue_kib"]),
        "--page-header-bytes", str(g["page_header_bytes"]),
        "--exec-text-pages", str(g["exec_text_pages"]),
        "--exec-data-pages", str(g["exec_data_pages"]),
        "--cpu-state-kib", repr(g["cpu_state_kib"]),
        "--json",
    ] + ([] if g["exec_data_write_rate_pps"] is None
         else ["--exec-data-write-rate-pps", repr(g["exec_data_write_rate_pps"])]) + (
        [] if g["cap_window_ms"] is None else ["--cap-window-ms", repr(g["cap_window_ms"])]) + [
        "--top-data-mib", repr(g["top_data_mib"])]


def replay(binary, row, g, row_zero_pages=False):
    out = subprocess.run([binary, "migrate", *flags(row, g, row_zero_pages)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)[0]


def within(model, measured, rel, abs_ms=None):
    if measured == 0:
        return model == 0
    ok = abs(model - measured) <= rel * measured
    if abs_ms is not None:
        ok = ok or abs(model - measured) <= abs_ms
    return ok


def measured_here(path, binary, g, markdown):
    """Prints, for every configuration measured run by run here
    (scripts/qemu_measure/measure.py), the model against the median of the
    runs whose guest had the model's zero pages (within SAME_GUEST_PAGES;
    the others booted into another memory layout, see docs/migration.md).
    Bytes pass within 5 % of that median or inside those runs' range (where
    they spread wider than the target); stall as for the released rows.
    The model gets this host's setup (the runs' median `setup_ms`: a few
    ms here, 298-513 ms in the released rows), everything else from g."""
    configs = {}
    for run in csv.DictReader(open(path, newline="")):
        key = (run["tech"], int(float(run["WS"])), int(float(run["rate"])),
               int(float(run["BW"])))
        configs.setdefault(key, []).append(run)
    lines = []
    bytes_ok = stall_ok = stall_rows = rows = 0
    for (tech, ws, rate, bw), runs in sorted(configs.items()):
        done = [r for r in runs if r["status"] == "completed"]
        same = [r for r in done if abs(float(r["zero_pg"]) - guest_zero_pages(ws))
                <= SAME_GUEST_PAGES]
        if not same:
            continue
        row = {"tech": tech, "WS": str(ws), "rate": str(rate), "BW": str(bw)}
        setup = statistics.median(float(r["setup_ms"]) for r in same)
        m = replay(binary, row, dict(g, setup_ms=setup))
        if tech == "precopy" and not m["converged"]:
            continue
        rows += 1
        mib = [float(r["xfer_MiB"]) for r in same]
        low, mid, high = min(mib), statistics.median(mib), max(mib)
        model_mib = m["bytes_total"] / MIB
        b_ok = within(model_mib, mid, BYTES_REL) or low <= model_mib <= high
        bytes_ok += b_ok
        gaps = [float(r["guest_gap_ms"]) for r in same if r["guest_gap_ms"]]
        gap = statistics.median(gaps) if gaps else None
        s_ok = gap is not None and within(m["stall_ms"], gap, STALL_REL, STALL_ABS_MS)
        stall_rows += gap is not None
        stall_ok += s_ok
        total = statistics.median(float(r["total_ms"]) for r in same)
        lines.append((tech, str(ws), str(rate), str(bw), f"{len(same)}/{len(runs)}",
                      f"{m['stall_ms']:.0f}", "-" if gap is None else f"{gap:.0f}",
                      "-" if gap is None else ("yes" if s_ok else "NO"),
                      f"{m['total_ms']:.0f}", f"{total:.0f}",
                      f"{model_mib:.1f}", f"{mid:.1f}", f"{low:.1f}-{high:.1f}",
                      "yes" if b_ok else "NO"))
    print_table(("tech", "WS", "rate", "BW", "same guest/runs", "stall model",
                 "gap here", "stall ok", "total model", "here", "MiB model",
                 "MiB here", "range", "bytes ok"), lines, markdown)
    print()
    print(f"measured here: stall within 30 % or 20 ms: {stall_ok}/{stall_rows} "
          f"configurations with a gap; bytes within 5 % of the median or inside "
          f"the range: {bytes_ok}/{rows}")


def print_table(head, lines, markdown):
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
        for line in [head, *lines]:
            print("  ".join(str(c).rjust(w) for c, w in zip(line, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/mcc-emu")
    ap.add_argument("--csv", default=RELEASED_CSV)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--split", action="store_true",
                    help="also print the pre/post split of the rows that switched")
    ap.add_argument("--pass-end", choices=("drained", "below-target"),
                    default=GLOBAL["pass_end"])
    ap.add_argument("--row-zero-pages", action="store_true",
                    help="a check: each row's own zero-page count")
    ap.add_argument("--runs", help="per-run measurements (scripts/qemu_measure/measure.py)")
    ap.add_argument("--windows", action="store_true",
                    help="QEMU's 100 ms rate-limit windows (GLOBAL_WINDOWS)")
    ap.add_argument("--check", action="store_true",
                    help="exit with status 1 unless the targets are met")
    args = ap.parse_args()
    g = dict(GLOBAL_WINDOWS if args.windows else GLOBAL, pass_end=args.pass_end)
    rows = list(csv.DictReader(open(args.csv, newline="")))
    lines = []
    split = []
    stall_ok = bytes_ok = verdict_ok = completed = 0
    time_err = {"precopy": [], "stop": []}
    failures = []
    head = ("tech", "rate", "BW", "verdict", "stall model", "gap real", "stall ok",
            "total model", "total real", "MiB model", "MiB real", "bytes ok")
    for row in rows:
        r = replay(args.bin, row, g, args.row_zero_pages)
        cancelled = int(row["ok"].split()[0]) < int(row["n"])
        model_cancel = row["tech"] == "precopy" and not r["converged"]
        v_ok = cancelled == model_cancel
        verdict_ok += v_ok
        key = (row["tech"], row["rate"], row["BW"])
        if not v_ok:
            failures.append(f"{' '.join(key)}: converge/cancel verdict differs")
        mib = r["bytes_total"] / MIB
        if cancelled:
            # Only the verdict is compared.
            s_ok = b_ok = False
            real_mib = float(row["xfer_MiB"])
        else:
            gap = float(row["guest_gap_ms"])
            completed += 1
            s_ok = within(r["stall_ms"], gap, STALL_REL, STALL_ABS_MS)
            real_mib = float(row["xfer_MiB"])
            b_ok = within(mib, real_mib, BYTES_REL)
            if not s_ok:
                failures.append(f"{' '.join(key)}: stall {r['stall_ms']:.0f} ms against "
                                f"{gap:.0f}")
            same_guest = (abs(float(row["zero_pg"]) - guest_zero_pages(float(row["WS"])))
                          <= SAME_GUEST_PAGES)
            if not b_ok and same_guest and key not in RUNS_DISAGREE:
                failures.append(f"{' '.join(key)}: {mib:.1f} MiB against {real_mib:.1f}")
            if row["tech"] in time_err:
                total = float(row["total_ms"])
                time_err[row["tech"]].append(abs(r["total_ms"] - total) / total)
        stall_ok += s_ok
        bytes_ok += b_ok
        if float(row["post_MiB"] or 0) > 0:
            split.append((row["tech"], row["rate"], row["BW"],
                          f"{(r['bytes_precopy'] + r['bytes_stop']) / MIB:.1f}",
                          f"{float(row['pre_MiB']) + float(row['down_MiB'] or 0):.1f}",
                          f"{r['bytes_postcopy'] / MIB:.1f}", f"{float(row['post_MiB']):.1f}",
                          str(r["page_faults"]), f"{float(row['pc_req']):.0f}"))
        if cancelled:
            # Not comparable: QEMU gave up at 120 s, the model at its round limit.
            lines.append((row["tech"], row["rate"], row["BW"],
                          ("cancel" if model_cancel else "done") + ("" if v_ok else " (!)"),
                          "-", "-", "-", "-", f"{float(row['total_ms']):.0f}",
                          "-", f"{real_mib:.1f}", "-"))
            continue
        lines.append((row["tech"], row["rate"], row["BW"],
                      ("cancel" if model_cancel else "done") + ("" if v_ok else " (!)"),
                      f"{r['stall_ms']:.0f}", f"{gap:.0f}",
                      "yes" if s_ok else "NO",
                      f"{r['total_ms']:.0f}", f"{float(row['total_ms']):.0f}",
                      f"{mib:.1f}", f"{real_mib:.1f}", "yes" if b_ok else "NO"))
    print_table(head, lines, args.markdown)
    if args.split:
        print()
        print_table(("tech", "rate", "BW", "MiB before switch model", "real",
                     "MiB after switch model", "real", "faults model", "pc_req real"),
                    split, args.markdown)
    n = len(rows)
    print()
    print(f"stall within 30 % or 20 ms of guest_gap_ms: {stall_ok}/{completed} completed rows")
    print(f"bytes within 5 %: {bytes_ok}/{completed} completed rows")
    print(f"same converge/cancel verdict: {verdict_ok}/{n} rows")
    for tech, errs in time_err.items():
        if errs:
            median = statistics.median(errs)
            print(f"total time, {tech}: median error {100 * median:.1f} % "
                  f"over {len(errs)} completed rows")
            if median > TIME_REL:
                failures.append(f"total time, {tech}: median error {100 * median:.1f} %")
    if args.check:
        print()
        print("check: " + ("targets met" if not failures else "MISSED"))
        for failure in failures:
            print(f"  {failure}")
        if failures:
            return 1
    if args.runs:
        print()
        measured_here(args.runs, args.bin, g, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
