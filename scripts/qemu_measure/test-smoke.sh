#!/usr/bin/env bash
# Smoke test of the QEMU measurement harness (scripts/qemu_measure/): two real
# QEMU 7.2 migrations of the rebuilt guest, checked for what a row must hold.
# Installs Debian's qemu-system-x86 when missing and fetches the guest kernel
# (measure.py does, into ~/.cache/mcc-emu-qemu); 14 s here once both are
# there (installing QEMU took 6-8 s more, plus apt-get update and the kernel).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v qemu-system-x86_64 >/dev/null 2>&1 \
    || ! ls ~/.cache/mcc-emu-qemu/boot/vmlinuz-6.1.* >/dev/null 2>&1; then
    # The package lists, for qemu-system-x86 and the kernel measure.py fetches.
    apt-get update -qq
fi
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-system-x86 >/dev/null
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# A stop-and-copy: the guest answers at the target, and every page is sent
# once (a 16 MiB working set in a 512 MiB guest: ~100 or ~108 MiB of data,
# by the layout KASLR gives the guest).
python3 scripts/qemu_measure/measure.py --tech stop --ws 16 --rate 2500 --bw 100 \
    --runs 1 --out "$out/stop.csv" 2>/dev/null
# A pre-copy with its memory compared page by page at the end.
python3 scripts/qemu_measure/measure.py --tech precopy --ws 16 --rate 2500 --bw 100 \
    --runs 1 --check-memory --out "$out/precopy.csv" 2>/dev/null

python3 - "$out" <<'EOF'
import csv, sys
out = sys.argv[1]
stop = list(csv.DictReader(open(f"{out}/stop.csv")))
pre = list(csv.DictReader(open(f"{out}/precopy.csv")))
assert len(stop) == 1 and len(pre) == 1, (stop, pre)
s, p = stop[0], pre[0]
for row in (s, p):
    assert row["status"] == "completed", row
    assert 90 < float(row["xfer_MiB"]) < 140, row["xfer_MiB"]
    assert int(row["normal_pg"]) + int(row["zero_pg"]) >= 131_072, row
    assert row["writer_page"] != "" and row["layout"].startswith("0 "), row
# The stop lasts as long as the copy: the guest's gap covers QEMU's total.
assert float(s["guest_gap_ms"]) >= float(s["total_ms"]), s
assert int(p["pages_differing"]) == 0, p["pages_differing"]
print(f"stop: {s['xfer_MiB']} MiB, gap {s['guest_gap_ms']} ms; "
      f"pre-copy: {p['xfer_MiB']} MiB after {p['syncs']} syncs, "
      f"{p['pages_differing']} pages differing")
EOF
