#!/usr/bin/env python3
"""Accounts for every request of a soak run (experiments/soak/soak.sh).

Reads OUT/client.csv (mobile-client: one row per request sent),
OUT/emu/requests.csv and OUT/emu/summary.json (serve's outputs) and
OUT/memory.csv, and prints what was sent, answered, failed by reason, how
each request is accounted for on the emulator's side, and serve's memory.

A request the client sent is accounted for when it is
- a row of requests.csv (answered, timed out, out of coverage, unanswered:
  an error such as UNAVAILABLE from a node that died; also those the client
  stopped waiting for: the emulator still ran them), or
- counted in summary.json's real_clock.refused_overload (RESOURCE_EXHAUSTED:
  refused before anything was made for it).
Checked per device for rows, and in total for the refusals; a request the
summary counts without a row (none should be) is shown apart.
"""

import collections
import csv
import json
import sys
from pathlib import Path

# Every client outcome but a refusal for overload has a row.
REFUSED = "error:resource_exhausted"
# mobile-client's row for a request it did not send (it had its bound in
# flight): the emulator never saw it.
NOT_SENT = "not_sent"


def main(out: Path) -> int:
    rows = list(csv.DictReader(open(out / "client.csv", newline="")))
    client = [r for r in rows if r["outcome"] != NOT_SENT]
    not_sent = len(rows) - len(client)
    emu = list(csv.DictReader(open(out / "emu" / "requests.csv", newline="")))
    summary = json.load(open(out / "emu" / "summary.json"))
    real = summary.get("real_clock") or {}
    memory = list(csv.DictReader(open(out / "memory.csv", newline="")))

    by_outcome = collections.Counter(r["outcome"] for r in client)
    sent = len(client)
    answered = by_outcome["ok"]
    refused = by_outcome[REFUSED]
    unanswered = sum(n for o, n in by_outcome.items() if o.startswith("error:")) - refused

    client_rows = collections.Counter(r["device"] for r in client if r["outcome"] != REFUSED)
    emu_rows = collections.Counter(r["device"] for r in emu)
    mismatched = {
        d: (client_rows[d], emu_rows[d])
        for d in sorted(set(client_rows) | set(emu_rows))
        if client_rows[d] != emu_rows[d]
    }
    without_row = summary["requests"] - len(emu)
    refused_emu = real.get("refused_overload", 0)
    unaccounted = sent - (sum(emu_rows.values()) + refused_emu + without_row)

    rss = [int(m["serve_rss_kib"]) for m in memory if int(m["serve_rss_kib"]) > 0]
    print(f"requests sent (client.csv rows): {sent} (and {not_sent} not sent: the client had its bound in flight)")
    print(f"answered ok: {answered} ({100 * answered / max(sent, 1):.2f} %)")
    print("by outcome (client):")
    for outcome, n in sorted(by_outcome.items(), key=lambda x: -x[1]):
        print(f"  {outcome}: {n}")
    print("emulator side:")
    print(f"  rows of requests.csv: {len(emu)} "
          f"({dict(collections.Counter(r['outcome'] for r in emu))})")
    print(f"  refused_overload: {refused_emu} (client saw {refused})")
    print(f"  counted without a row: {without_row} (client saw {unanswered} errors, "
          "each a row `unanswered`)")
    print(f"  summary: requests {summary['requests']}, failed {summary['failed']}, "
          f"migrations {summary['migrations']}, migrations_failed {real.get('migrations_failed')}")
    print(f"  nodes_lost: {json.dumps(real.get('nodes_lost'))}")
    print(f"  vms_lost: {len(real.get('vms_lost') or [])}, then: "
          f"{dict(collections.Counter(v['then'].split(' after ')[0] for v in real.get('vms_lost') or []))}")
    print(f"devices whose rows differ (client, emulator): {mismatched or 'none'}")
    print(f"unaccounted for: {unaccounted}")
    if rss:
        print(f"serve RSS: first sample {rss[0] / 1024:.1f} MiB, last {rss[-1] / 1024:.1f} MiB, "
              f"max {max(rss) / 1024:.1f} MiB ({len(rss)} samples)")
    return 0 if unaccounted == 0 and not mismatched and refused == refused_emu else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mcc-soak")))
