"""Compare two source trees on one `make bench` scenario, in alternating rounds.

    python -m benchmarks.ab --a DIR --b DIR --only signal-single --rounds 5

Each round runs the scenario once from tree A, then once from tree B (A B A B ...), each in a
fresh process with the same process layout as `make bench`, so a slower or faster spell of a
shared machine falls on both; it also records the servers' CPU time per request, which other
processes' load moves less. It prints every run and, per figure, the median of each tree,
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
import asyncio, contextlib, dataclasses, json, os, sys
from benchmarks import load as load_module, procs, scenarios
name, seconds = sys.argv[1], float(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")
cpu, requests = {}, {}

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

serve, load = scenarios.uvicorn, scenarios.run_load

@contextlib.contextmanager
def counted_serve(app, *args, **kwargs):
    with serve(app, *args, **kwargs) as (port, proc):
        start = cpu_s(proc.pid)
        try:
            yield port, proc
        finally:
            cpu[port] = (app, cpu_s(proc.pid) - start)

async def counted_load(host, port, *args, **kwargs):
    result = await load(host, port, *args, **kwargs)
    requests[port] = requests.get(port, 0) + result.requests
    return result

# Where the scenarios take them from: the scenarios module, and (for those imported later,
# such as benchmarks.reads and benchmarks.national) the modules that define them.
scenarios.uvicorn = procs.uvicorn = counted_serve
scenarios.run_load = load_module.run_load = counted_load
rows = asyncio.run(scenarios.run_all(seconds, [name], 0))
per_request = {app: used / requests[port] * 1e6 for port, (app, used) in cpu.items()
               if requests.get(port)}
print("AB-JSON " + json.dumps({"rows": [dataclasses.asdict(r) for r in rows],
                               "cpu_us": per_request}))
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
    result = json.loads(line[len("AB-JSON "):])
    name = "server"
    for app, micros in result["cpu_us"].items():
        # Server CPU per request (warm-up included): steadier than throughput on a busy
        # machine, since other processes' load slows a request more than it adds CPU to it.
        if app.startswith("benchmarks.hello"):
            figures["cpu_us_per_request_hello"] = micros
        else:
            name = app.split(".")[1]
            figures[f"cpu_us_per_request_{name}"] = micros
    if "cpu_us_per_request_hello" in figures:
        # The two servers took the load in turns within the run: their CPU ratio cancels
        # most of what the machine's other load does to both.
        figures["cpu_vs_hello"] = (figures[f"cpu_us_per_request_{name}"]
                                   / figures["cpu_us_per_request_hello"])
    for row in result["rows"]:
        if row["scenario"].startswith("hello-world"):
            continue
        match = re.match(r"[\d.]+", row["throughput"])
        if match:
            figures["throughput"] = float(match.group())
        for key in ("p50_ms", "p99_ms", "ratio"):
            if row[key] is not None:
                figures[key] = float(row[key])
        errors = re.search(r"(\d+) errors", row["note"])
        if errors and int(errors.group(1)):
            figures["errors"] = float(errors.group(1))
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
