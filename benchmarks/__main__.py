"""`make bench`: every benchmark of the platform, printed as one table and saved.

Each HTTP scenario runs one uvicorn worker and the same load client (32 connections), so the
ratio to the bare FastAPI hello-world measured in the same run is the framework-relative
figure the issues ask for. The table goes into docs/benchmarks.md, between its markers, with
the machine it ran on; the text around it stays.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import scenarios
from benchmarks.report import Row, render

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
            f"{mem:.0f} GiB, Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per HTTP scenario")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--soak-seconds", type=float, default=300.0,
                        help="length of the soak at 200 signals/s (0 leaves it out)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    rows: list[Row] = asyncio.run(scenarios.run_all(args.seconds, args.only, args.soak_seconds))
    table = render(rows)
    print(table)
    if not args.only:
        write_last_run(Path(args.out),
                       f"Last run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, by "
                       f"`make bench` (soak {args.soak_seconds:.0f} s).\n\n{table}\n")
    return 0 if all(r.ok for r in rows) else 1


LAST_RUN_START, LAST_RUN_END = "<!-- make bench: last run -->", "<!-- make bench: end -->"


def write_last_run(path: Path, section: str) -> None:
    """Put the run's table between the markers of `path`, keeping the text around them."""
    text = path.read_text() if path.exists() else ""
    block = f"{LAST_RUN_START}\n{section}{LAST_RUN_END}"
    if LAST_RUN_START in text and LAST_RUN_END in text:
        before, rest = text.split(LAST_RUN_START, 1)
        text = before + block + rest.split(LAST_RUN_END, 1)[1]
    else:
        text = f"# Benchmarks\n\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
