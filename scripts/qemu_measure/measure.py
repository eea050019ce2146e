#!/usr/bin/env python3
"""Measures real QEMU live migrations of a guest that dirties its working set
round-robin, one row per run, with the writer's position at the start.

Usage: scripts/qemu_measure/measure.py --tech precopy --ws 64 --rate 25000
           --bw 100 --runs 5 --out runs.csv [--kernel VMLINUZ] [--cancel-s 120]
           [--kernel-args nokaslr] [--check-memory] [--trace trace.csv]

The guest is the one of data/qemu/README.md (a 512 MiB, 1 vCPU TCG guest
whose /init, guest_init.c here, fills WS MiB with random non-zero bytes, then
writes 8 bytes to page i mod N at RATE pages/s in 1 ms batches and prints a
heartbeat every 10 ms on its serial port), migrated over loopback between
two QEMU processes with max-bandwidth = max-postcopy-bandwidth = BW MiB/s
and downtime-limit 300 ms, by one of four techniques:

  precopy   plain migrate
  postcopy  migrate, then migrate-start-postcopy at once
  hybrid    migrate-start-postcopy when the third dirty-bitmap sync is seen
            (pass 3 begins)
  stop      stop the VM, migrate, cont at the target when done

Each run appends one CSV row (columns: see COLUMNS and docs/migration.md).
Beyond the released data's columns it records `writer_page`, the page the
writer was about to dirty when `migrate` was sent, and `layout`, where the
working set lay in guest-physical memory (runs of frames, see guest_init.c).
--trace also appends every `query-migrate` poll of the run (every 5 ms) to
another CSV: how the bytes went out over time, window by window.

Needs qemu-system-x86_64 (Debian: qemu-system-x86), gcc with a static C
library, and a Linux 6.1 kernel image: by default the newest Debian
linux-image-6.1.*-cloud-amd64-unsigned, fetched with `apt-get download` into
~/.cache/mcc-emu-qemu. Standard library only.
"""

import argparse
import csv
import glob
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.expanduser("~/.cache/mcc-emu-qemu")
GUEST_MEMORY_MIB = 512
DOWNTIME_LIMIT_MS = 300
POLL_S = 0.005
PAGE = 4096

COLUMNS = [
    "tech", "WS", "rate", "BW", "run", "status", "total_ms", "setup_ms",
    "qemu_dt_ms", "guest_gap_ms", "xfer_MiB", "normal_pg", "zero_pg", "syncs",
    "pc_req", "pre_MiB", "down_MiB", "post_MiB", "g_rate_pre",
    "g_rate_src_mig", "g_rate_dst_pc", "switch_s", "maxgap_src_ms",
    "maxgap_dst_ms", "writer_page", "pages_differing", "layout",
]


def version_key(name):
    """Sorts package names by their numbers (6.1.0-9 before 6.1.0-50)."""
    return [int(part) if part.isdigit() else part
            for part in re.split(r"(\d+)", name)]


def kernel_image():
    """The newest Debian 6.1 cloud kernel, downloaded once into CACHE."""
    found = sorted(glob.glob(os.path.join(CACHE, "boot", "vmlinuz-6.1.*")), key=version_key)
    if found:
        return found[-1]
    os.makedirs(CACHE, exist_ok=True)
    names = subprocess.run(
        ["apt-cache", "search", "--names-only",
         r"^linux-image-6\.1\.[0-9.-]*-cloud-amd64-unsigned$"],
        check=True, capture_output=True, text=True).stdout.split()
    packages = sorted((n for n in names if n.startswith("linux-image-")),
                      key=version_key)
    if not packages:
        sys.exit("no linux-image-6.1.*-cloud-amd64-unsigned package (run apt-get update?): pass --kernel")
    subprocess.run(["apt-get", "download", packages[-1]], cwd=CACHE,
                   check=True, capture_output=True)
    deb = sorted(glob.glob(os.path.join(CACHE, packages[-1] + "_*.deb")))[-1]
    subprocess.run(["dpkg-deb", "-x", deb, CACHE], check=True)
    return sorted(glob.glob(os.path.join(CACHE, "boot", "vmlinuz-6.1.*")), key=version_key)[-1]


def cpio_entry(name, mode, data=b"", rdev=(0, 0), ino=[0]):
    """One file of a newc cpio archive (the initramfs format)."""
    ino[0] += 1
    fields = [ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name) + 1, 0]
    out = ("070701" + "".join("%08X" % v for v in fields)).encode()
    out += name.encode() + b"\0"
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def build_initrd(workdir):
    """Compiles guest_init.c statically and packs it as the guest's /init."""
    init = os.path.join(workdir, "init")
    subprocess.run(["gcc", "-O2", "-static", "-Wall", "-o", init,
                    os.path.join(HERE, "guest_init.c")], check=True)
    blob = (cpio_entry("dev", 0o40755)
            + cpio_entry("dev/console", 0o20600, rdev=(5, 1))
            + cpio_entry("proc", 0o40555)
            + cpio_entry("init", 0o100755, open(init, "rb").read())
            + cpio_entry("TRAILER!!!", 0))
    path = os.path.join(workdir, "initrd.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(blob))
    return path


class Qmp:
    """A QMP connection: commands answered in order, events set aside."""

    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb", buffering=0)
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QMP closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg).encode() + b"\n")
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{name}: {reply['error']}")
        return reply["return"]


class Guest:
    """One QEMU process; its serial lines timestamped as they arrive."""

    def __init__(self, workdir, name, kernel, initrd, ws, rate, incoming=False,
                 paused=False, kernel_args=""):
        self.qmp_path = os.path.join(workdir, name + ".qmp")
        args = ["qemu-system-x86_64", "-nodefaults", "-machine", "pc",
                "-accel", "tcg", "-m", str(GUEST_MEMORY_MIB), "-smp", "1",
                "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-kernel", kernel, "-initrd", initrd,
                "-append", f"console=ttyS0 quiet {kernel_args} WS={ws} RATE={rate}",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if incoming:
            args += ["-incoming", "defer"]
        if paused:
            args += ["-S"]  # stays paused after an incoming migration
        # QEMU's own messages go to a file: an unread pipe could fill and
        # stall it.
        self.log_path = os.path.join(workdir, name + ".log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=log)
        self.lines = []  # (monotonic seconds, text)
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.qmp = Qmp(self.qmp_path)

    def _read(self):
        for raw in self.proc.stdout:
            t = time.monotonic()
            text = raw.decode(errors="replace").strip()
            self.lines.append((t, text))
            if text.startswith("READY"):
                self.ready.set()

    def beats(self):
        """Heartbeats: (time, next page index, pages written)."""
        out = []
        for t, text in list(self.lines):
            parts = text.split()
            if len(parts) == 4 and parts[0] == "H" and parts[2].isdigit() \
                    and parts[3].isdigit():
                out.append((t, int(parts[2]), int(parts[3])))
        return out

    def layout(self):
        runs = [text[2:] for _, text in list(self.lines) if text.startswith("R ")]
        return ";".join(runs)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def qemu_downtime(info):
    """QEMU's `downtime`; QEMU 7.2 reports a post-copy migration's from a
    start time of zero (the host's uptime in ms), which is left blank."""
    downtime = info.get("downtime", "")
    if downtime != "" and downtime > info.get("total-time", 0):
        return ""
    return downtime


def rate_between(beats, t0, t1):
    inside = [b for b in beats if t0 <= b[0] <= t1]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return ""
    return round((inside[-1][2] - inside[0][2]) / (inside[-1][0] - inside[0][0]), 1)


def max_gap_ms(beats, t0, t1):
    times = [b[0] for b in beats if t0 <= b[0] <= t1]
    gaps = [b - a for a, b in zip(times, times[1:])]
    return round(max(gaps) * 1e3, 1) if gaps else ""


def run_once(args, kernel, initrd, run):
    with tempfile.TemporaryDirectory(prefix="qemu-measure-") as workdir:
        port = free_port()
        source = Guest(workdir, "source", kernel, initrd, args.ws, args.rate,
                       kernel_args=args.kernel_args)
        target = Guest(workdir, "target", kernel, initrd, args.ws, args.rate,
                       incoming=True, paused=args.check_memory,
                       kernel_args=args.kernel_args)
        try:
            row = migrate(args, source, target, port, run)
            if args.check_memory and row["status"] == "completed":
                row["pages_differing"] = pages_differing(source, target)
            return row
        finally:
            source.stop()
            target.stop()


def pages_differing(source, target):
    """Pages whose content differs between the (stopped) source and the
    target, which has not run since the migration completed."""
    images = []
    for side in (source, target):
        path = side.qmp_path + ".mem"
        side.qmp.cmd("pmemsave", val=0, size=GUEST_MEMORY_MIB * MIB,
                     filename=path)
        images.append(path)
    differing = 0
    with open(images[0], "rb") as a, open(images[1], "rb") as b:
        while True:
            x, y = a.read(PAGE), b.read(PAGE)
            if not x and not y:
                break
            differing += x != y
    for path in images:
        os.remove(path)
    return differing


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TRACE_COLUMNS = ["tech", "WS", "rate", "BW", "run", "t_s", "status",
                 "transferred", "remaining", "syncs"]


class TraceWriter:
    """Appends one row per `query-migrate` poll to a CSV (--trace)."""

    def __init__(self, path):
        new_file = not os.path.exists(path) or os.path.getsize(path) == 0
        self.file = open(path, "a", newline="")
        self.out = csv.writer(self.file)
        if new_file:
            self.out.writerow(TRACE_COLUMNS)

    def writerow(self, row):
        self.out.writerow(row)

    def close(self):
        self.file.close()


def migrate(args, source, target, port, run):
    if not source.ready.wait(args.boot_timeout_s):
        with open(source.log_path, errors="replace") as log:
            qemu_said = log.read()[-2000:]
        raise RuntimeError(f"guest not ready in {args.boot_timeout_s} s; QEMU said: "
                           f"{qemu_said or 'nothing'}")
    time.sleep(args.warmup_s)
    postcopy = args.tech in ("postcopy", "hybrid")
    for side in (source, target):
        side.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "postcopy-ram", "state": postcopy}])
    source.qmp.cmd("migrate-set-parameters",
                   **{"max-bandwidth": args.bw * MIB,
                      "max-postcopy-bandwidth": args.bw * MIB,
                      "downtime-limit": DOWNTIME_LIMIT_MS})
    target.qmp.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    if args.tech == "stop":
        source.qmp.cmd("stop")
    before = source.beats()
    started = time.monotonic()
    source.qmp.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    switched = None
    if args.tech == "postcopy":
        source.qmp.cmd("migrate-start-postcopy")
        switched = time.monotonic()
    cancelled = False
    last_status = None
    last_running = {}
    trace = TraceWriter(args.trace) if args.trace else None
    while True:
        info = source.qmp.cmd("query-migrate")
        status = info.get("status")
        if trace:
            ram = info.get("ram", {})
            trace.writerow([args.tech, args.ws, args.rate, args.bw, run,
                            f"{time.monotonic() - started:.4f}", status,
                            ram.get("transferred", ""), ram.get("remaining", ""),
                            ram.get("dirty-sync-count", "")])
        if status == "cancelled" and last_running:
            # A cancelled migration's figures are gone: keep the last seen.
            info = dict(last_running, status=status)
        elif "ram" in info:
            last_running = info
        if status != last_status:
            print(f"  {time.monotonic() - started:8.3f} s {status}", file=sys.stderr, flush=True)
            last_status = status
        if status in ("completed", "failed", "cancelled"):
            break
        if (args.tech == "hybrid" and switched is None
                and info.get("ram", {}).get("dirty-sync-count", 0) >= 3):
            source.qmp.cmd("migrate-start-postcopy")
            switched = time.monotonic()
        if not cancelled and time.monotonic() - started > args.cancel_s:
            source.qmp.cmd("migrate_cancel")
            cancelled = True
        time.sleep(POLL_S)
    finished = time.monotonic()
    if trace:
        trace.close()
    if status == "completed":
        # QEMU 7.2 reports `completed` a moment before it fills in the
        # times; ask again until they are there.
        deadline = time.monotonic() + 2
        while not info.get("total-time") and time.monotonic() < deadline:
            time.sleep(POLL_S)
            info = source.qmp.cmd("query-migrate")
    if status == "completed" and not args.check_memory:
        if target.qmp.cmd("query-status").get("status") != "running":
            target.qmp.cmd("cont")
        # A post-copy freeze lasts seconds; a target whose kernel crashed
        # never sends a heartbeat.
        deadline = time.monotonic() + 10
        while not target.beats() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)
    ram = info.get("ram", {})
    src, dst = source.beats(), target.beats()
    last_before = before[-1] if before else None
    writer_page = ""
    if last_before and args.tech != "stop":
        pages = args.ws * MIB // 4096
        ahead = round(args.rate * (started - last_before[0]))
        writer_page = (last_before[1] + ahead) % pages
    elif last_before:
        writer_page = last_before[1]
    last_src = [b for b in src if b[0] <= finished]
    gap = ""
    if status == "completed" and dst and last_src:
        gap = round((dst[0][0] - last_src[-1][0]) * 1e3, 1)
    warm_from = started - args.warmup_s
    return {
        "tech": args.tech, "WS": args.ws, "rate": args.rate, "BW": args.bw,
        "run": run, "status": status,
        "total_ms": info.get("total-time", ""),
        "setup_ms": info.get("setup-time", ""),
        "qemu_dt_ms": qemu_downtime(info),
        "guest_gap_ms": gap,
        "xfer_MiB": round(ram.get("transferred", 0) / MIB, 3),
        "normal_pg": ram.get("normal", ""),
        "zero_pg": ram.get("duplicate", ""),
        "syncs": ram.get("dirty-sync-count", ""),
        "pc_req": ram.get("postcopy-requests", ""),
        "pre_MiB": round(ram.get("precopy-bytes", 0) / MIB, 3),
        "down_MiB": round(ram.get("downtime-bytes", 0) / MIB, 3),
        "post_MiB": round(ram.get("postcopy-bytes", 0) / MIB, 3),
        "g_rate_pre": rate_between(src, warm_from, started),
        "g_rate_src_mig": rate_between(src, started, switched or finished),
        "g_rate_dst_pc": rate_between(dst, 0, finished) if switched else "",
        "switch_s": round(switched - started, 4) if switched else "",
        "maxgap_src_ms": max_gap_ms(src, started, finished),
        "maxgap_dst_ms": max_gap_ms(dst, 0, finished + 1.0),
        "writer_page": writer_page,
        "pages_differing": "",
        "layout": source.layout(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tech", required=True,
                    choices=("precopy", "postcopy", "hybrid", "stop"))
    ap.add_argument("--ws", type=int, required=True, help="working set, MiB")
    ap.add_argument("--rate", type=int, required=True, help="pages/s")
    ap.add_argument("--bw", type=int, required=True, help="cap, MiB/s")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", required=True, help="CSV to append rows to")
    ap.add_argument("--kernel", help="guest kernel image (bzImage)")
    ap.add_argument("--warmup-s", type=float, default=3.0,
                    help="writer running before migrate (default 3)")
    ap.add_argument("--cancel-s", type=float, default=120.0,
                    help="cancel a migration still running after (default 120)")
    ap.add_argument("--boot-timeout-s", type=float, default=120.0)
    ap.add_argument("--kernel-args", default="",
                    help="more guest kernel parameters (e.g. nokaslr)")
    ap.add_argument("--trace",
                    help="CSV to append every query-migrate poll to (every 5 ms: "
                         "time since migrate, status, bytes transferred, "
                         "remaining, syncs)")
    ap.add_argument("--check-memory", action="store_true",
                    help="precopy/stop: keep the target paused when done and "
                         "count the pages that differ from the source "
                         "(pages_differing); guest_gap_ms is then not measured")
    args = ap.parse_args()
    if not 1 <= args.ws <= GUEST_MEMORY_MIB // 2:
        sys.exit(f"--ws {args.ws}: the working set must be 1-{GUEST_MEMORY_MIB // 2} MiB")
    if not 0 <= args.rate <= 1_000_000 or not 1 <= args.bw <= 10_000:
        sys.exit("--rate must be 0-1,000,000 pages/s and --bw 1-10,000 MiB/s")
    if args.check_memory and args.tech not in ("precopy", "stop"):
        sys.exit("--check-memory: only precopy and stop leave the target paused "
                 "at completion")
    if shutil.which("qemu-system-x86_64") is None:
        sys.exit("qemu-system-x86_64 not found: install Debian's qemu-system-x86")
    if args.kernel and not os.path.isfile(args.kernel):
        sys.exit(f"--kernel {args.kernel}: no such file")
    kernel = args.kernel or kernel_image()
    with tempfile.TemporaryDirectory(prefix="qemu-initrd-") as build:
        initrd = build_initrd(build)
        new_file = not os.path.exists(args.out) or os.path.getsize(args.out) == 0
        with open(args.out, "a", newline="") as f:
            out = csv.DictWriter(f, fieldnames=COLUMNS)
            if new_file:
                out.writeheader()
            for run in range(1, args.runs + 1):
                row = run_once(args, kernel, initrd, run)
                out.writerow(row)
                f.flush()
                print(" ".join(f"{k}={row[k]}" for k in COLUMNS if k != "layout"),
                      flush=True)


if __name__ == "__main__":
    main()
