"""Compare two source trees on one `make bench` scenario, in alternating rounds.

    python -m benchmarks.ab --a DIR --b DIR --only signal-single --rounds 5

Each round runs the scenario once from tree A, then once from tree B (A B A B ...), each in a
fresh process with the same process layout as `make bench`, so a slower or faster spell of a
shared machine falls on both. It prints every run and, per figure, the median of each tree,
its spread (min-max) and B against A. A tree is a copy of the repository with one change
applied, so no measuring switch needs to live in the code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import asyncio, dataclasses, json, sys
from benchmarks import scenarios
name, seconds = sys.argv[1], float(sys.argv[2])
rows = asyncio.run(scenarios.run_all(seconds, [name], 0))
print("AB-JSON " + json.dumps([dataclasses.asdict(r) for r in rows]))
"""


def run_once(tree: Path, scenario: str, seconds: float) -> dict[str, float]:
    """One run of `scenario` from `tree`: its figures by name."""
    out = subprocess.run([sys.executable, "-c", CHILD, scenario, str(seconds)], cwd=tree,
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(tree)})
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("AB-JSON ")), None)
    if line is None:
        raise RuntimeError(f"{scenario} failed in {tree}: {(out.stderr or out.stdout)[-500:]}")
    figures: dict[str, float] = {}
    for row in json.loads(line[len("AB-JSON "):]):
        if row["scenario"].startswith("hello-world"):
            continue
        match = re.match(r"[\d.]+", row["throughput"])
        if match:
            figures["throughput"] = float(match.group())
        for key in ("p50_ms", "p99_ms", "ratio"):
            if row[key] is not None:
                figures[key] = float(row[key])
        if not row["ok"] and "errors" in row["note"] and not row["note"].startswith("0 "):
            figures["failed"] = 1.0
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, type=Path)
    parser.add_argument("--b", required=True, type=Path)
    parser.add_argument("--only", required=True, help="one scenario name of `make bench`")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    for round_ in range(1, args.rounds + 1):
        for label, tree in (("A", args.a), ("B", args.b)):
            figures = run_once(tree.resolve(), args.only, args.seconds)
            runs[label].append(figures)
            print(f"round {round_} {label}: {figures}", flush=True)
    print(f"\n{args.only}, {args.rounds} rounds A/B alternating; A={args.a} B={args.b}")
    for key in sorted({k for r in runs["A"] for k in r}):
        a = [r[key] for r in runs["A"] if key in r]
        b = [r[key] for r in runs["B"] if key in r]
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{key}: A median {ma:.2f} ({min(a):.2f}-{max(a):.2f}), "
              f"B median {mb:.2f} ({min(b):.2f}-{max(b):.2f}), B/A {mb / ma:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
