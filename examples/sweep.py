#!/usr/bin/env python3
"""Sweep one scenario parameter through `mcc-emu compare` and print a table.

For each value, the script writes a temporary copy of the scenario with the
parameter changed (next to the original, so the files it names still
resolve), runs `mcc-emu compare --json` on it, reads the JSON (never the
text table), removes the copy, and prints one line per value and
combination. Standard library only (Python 3.8 or newer).

    python3 examples/sweep.py --param vm.dirty_rate_pps --values 500,2000,8000 \\
        --policies nearest --techniques pre-copy,soft

    python3 examples/sweep.py --param placement.ga.weights.migration_ms_per_mib \\
        --values 1,0.1,0.01 --policies ga,nearest

`--param` is a dotted key of the scenario file: the table, then the key
(`duration_s`, `vm.dirty_rate_pps`, `workload.rate_hz`,
`placement.horizon_s`, `placement.ga.weights.migration_ms_per_mib`, ...;
docs/scenario.md lists them). See examples/README.md.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# (column title, how to read it from a row of comparison.json)
COLUMNS = [
    ("migrations", lambda r: figure(r, "migrations"), "{:.0f}"),
    ("p50_ms", lambda r: figure(r, "delay_ms", "p50"), "{:.3f}"),
    ("p95_ms", lambda r: figure(r, "delay_ms", "p95"), "{:.3f}"),
    ("p99_ms", lambda r: figure(r, "delay_ms", "p99"), "{:.3f}"),
    ("sla_violations", lambda r: figure(r, "sla_violations"), "{:.0f}"),
    ("downtime_ms", lambda r: figure(r, "downtime_ms_total"), "{:.3f}"),
    ("moved_MiB", lambda r: figure(r, "bytes_migrated") / 1048576.0, "{:.1f}"),
]


def figure(row, *path):
    """A number of a row: the value itself, or its mean with --runs > 1."""
    value = row
    for key in path:
        value = value[key]
    if isinstance(value, dict):
        value = value["mean"]
    return float(value)


def toml_value(text):
    """The TOML spelling of a command-line value: numbers and booleans as
    they are, anything else as a string."""
    if text in ("true", "false"):
        return text
    try:
        float(text)
        return text
    except ValueError:
        return json.dumps(text)


HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
ARRAY_HEADER = re.compile(r"^\s*\[\[")


def set_key(text, dotted, value):
    """`text` (a scenario file) with key `dotted` (table.key) set to `value`.

    The key's line is replaced if the table has it; otherwise the key is
    added at the top of its table, or in a new table at the end."""
    table, _, key = dotted.rpartition(".")
    line_re = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    lines = text.splitlines()
    current = ""  # the top level
    header_at = 0 if table == "" else None
    for i, line in enumerate(lines):
        match = HEADER.match(line)
        if match:
            current = match.group(1)
            if current == table:
                header_at = i + 1
            continue
        if ARRAY_HEADER.match(line):
            current = None
            continue
        if current == table and line_re.match(line):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    entry = f"{key} = {value}"
    if header_at is not None:
        lines.insert(header_at, entry)
    else:
        lines += ["", f"[{table}]", entry]
    return "\n".join(lines) + "\n"


def find_mcc_emu(given):
    if given:
        return given
    if os.environ.get("MCC_EMU"):
        return os.environ["MCC_EMU"]
    for profile in ("release", "debug"):
        candidate = os.path.join(REPO, "target", profile, "mcc-emu")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("mcc-emu")
    if found:
        return found
    sys.exit("sweep.py: cannot find mcc-emu; build it (cargo build --release -p mcc-emu) "
             "or give --mcc-emu PATH")


def run_compare(mcc_emu, scenario, dotted, value, args, out):
    folder = os.path.dirname(os.path.abspath(scenario))
    with open(scenario, encoding="utf-8") as f:
        text = set_key(f.read(), dotted, toml_value(value))
    fd, temp = tempfile.mkstemp(prefix=".sweep-", suffix=".toml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        command = [mcc_emu, "compare", temp, "--json", "--out", out,
                   "--policies", args.policies, "--runs", str(args.runs)]
        if args.techniques:
            command += ["--techniques", args.techniques]
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.remove(temp)
    if done.returncode != 0:
        sys.exit(f"sweep.py: {dotted} = {value}: mcc-emu failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--param", required=True,
                        help="dotted key of the scenario file, e.g. vm.dirty_rate_pps")
    parser.add_argument("--values", required=True,
                        help="comma-separated values to try, e.g. 500,2000,8000")
    parser.add_argument("--scenario", default=os.path.join(REPO, "topologies", "default.toml"),
                        help="scenario file (default: topologies/default.toml)")
    parser.add_argument("--policies", default="ga,nearest,never")
    parser.add_argument("--techniques", default="",
                        help="comma-separated techniques (default: the scenario's)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--out", default=None,
                        help="folder for the outputs, one sub-folder per value "
                             "(default: a temporary folder, removed at the end)")
    parser.add_argument("--mcc-emu", dest="mcc_emu", default=None,
                        help="the mcc-emu binary (default: $MCC_EMU, target/release, "
                             "target/debug, then PATH)")
    args = parser.parse_args()

    mcc_emu = find_mcc_emu(args.mcc_emu)
    values = [v.strip() for v in args.values.split(",") if v.strip()]
    if not values:
        sys.exit("sweep.py: --values: give at least one value")
    out_root = args.out or tempfile.mkdtemp(prefix="mcc-emu-sweep-")
    rows = []
    try:
        for value in values:
            out = os.path.join(out_root, f"{args.param}={value}")
            comparison = run_compare(mcc_emu, args.scenario, args.param, value, args, out)
            for row in comparison["policies"]:
                rows.append([value, row["policy"], row["technique"]]
                            + [fmt.format(get(row)) for _, get, fmt in COLUMNS])
    finally:
        if args.out is None:
            shutil.rmtree(out_root, ignore_errors=True)

    header = [args.param, "policy", "technique"] + [title for title, _, _ in COLUMNS]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for line in [header] + rows:
        cells = [str(c).ljust(w) if i < 3 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())
    if args.runs > 1:
        print(f"(means of {args.runs} runs; comparison.json in each folder has the spread)")


if __name__ == "__main__":
    main()
