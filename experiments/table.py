#!/usr/bin/env python3
"""Run one experiment world through `mcc-emu compare` and print its results
table in Markdown.

Every world in `experiments/` has an `experiment.json` that names its
scenario files and the policies, techniques and runs to compare; this script
runs `mcc-emu compare --json` on each scenario (reading the JSON, never the
text table) and prints one table per scenario, with what each policy saved
against `never` under the same technique. Standard library only (Python 3.8
or newer).

    python3 experiments/table.py experiments/dublin

The binary is `target/release/mcc-emu` (built first with `cargo build
--release -p mcc-emu` unless `--no-build`), or the one `--mcc-emu` names;
outputs go under `--out` (default `out/experiments/<world>`). The same binary, scenario and seed give
the same table, figure for figure.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# A row's figure (its mean with runs > 1): the one examples/sweep.py reads.
sys.path.insert(0, os.path.join(REPO, "examples"))
from sweep import figure  # noqa: E402


# (column title, how to read it from a row of comparison.json, format)
COLUMNS = [
    ("mean ms", lambda r: figure(r, "delay_ms", "mean"), "{:.3f}"),
    ("p50 ms", lambda r: figure(r, "delay_ms", "p50"), "{:.3f}"),
    ("p95 ms", lambda r: figure(r, "delay_ms", "p95"), "{:.3f}"),
    ("p99 ms", lambda r: figure(r, "delay_ms", "p99"), "{:.3f}"),
    ("failed", lambda r: figure(r, "failed"), "{:.0f}"),
    ("SLA viol.", lambda r: figure(r, "sla_violations"), "{:.0f}"),
    ("migrations", lambda r: figure(r, "migrations"), "{:.0f}"),
    ("downtime s", lambda r: figure(r, "downtime_ms_total") / 1e3, "{:.3f}"),
    ("GiB moved", lambda r: figure(r, "bytes_migrated") / 2**30, "{:.1f}"),
]


def load_plan(world):
    path = os.path.join(world, "experiment.json")
    try:
        with open(path, encoding="utf-8") as f:
            plan = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"table.py: {path}: {e}")
    for key in ("scenarios", "policies", "techniques"):
        if not isinstance(plan.get(key), list) or not plan[key]:
            sys.exit(f"table.py: {path}: `{key}` must be a non-empty list")
    return plan


def compare(binary, scenario, plan, out):
    command = [
        binary,
        "compare",
        scenario,
        "--policies",
        ",".join(plan["policies"]),
        "--techniques",
        ",".join(plan["techniques"]),
        "--runs",
        str(plan.get("runs", 1)),
        "--out",
        out,
        "--json",
    ]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"table.py: {' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def table(comparison):
    rows = comparison["policies"]
    never = {r["technique"]: r for r in rows if r["policy"] == "never"}
    titles = ["policy", "technique"] + [c[0] for c in COLUMNS] + ["mean saved vs never ms"]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for r in rows:
        cells = [r["policy"], r["technique"]]
        cells += [fmt.format(get(r)) for _, get, fmt in COLUMNS]
        base = never.get(r["technique"])
        saved = "" if base is None else "{:.3f}".format(
            figure(base, "delay_ms", "mean") - figure(r, "delay_ms", "mean")
        )
        cells.append(saved)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", help="an experiment folder, e.g. experiments/dublin")
    parser.add_argument("--out", help="output folder (default out/experiments/<world>)")
    parser.add_argument("--no-build", action="store_true", help="use the binary as it is")
    parser.add_argument(
        "--mcc-emu", help="the mcc-emu binary to run (implies --no-build; default target/release/mcc-emu)"
    )
    args = parser.parse_args()
    world = os.path.abspath(args.world)
    name = os.path.basename(world.rstrip("/"))
    plan = load_plan(world)
    if not (args.no_build or args.mcc_emu):
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "mcc-emu"], cwd=REPO, check=True
        )
    binary = args.mcc_emu or os.path.join(REPO, "target", "release", "mcc-emu")
    out = os.path.abspath(args.out or os.path.join(REPO, "out", "experiments", name))
    print(f"# {plan.get('title', name)}\n")
    print(
        "Regenerate with `python3 experiments/table.py experiments/{}`; policies {}, "
        "techniques {}, {} run(s) per combination.\n".format(
            name, ", ".join(plan["policies"]), ", ".join(plan["techniques"]), plan.get("runs", 1)
        )
    )
    for scenario in plan["scenarios"]:
        path = os.path.join(world, scenario)
        stem = os.path.splitext(os.path.basename(scenario))[0]
        comparison = compare(binary, path, plan, os.path.join(out, stem))
        print(f"## {scenario} (seed {comparison['seed']})\n")
        print(table(comparison))
        print()


if __name__ == "__main__":
    main()
