"""Benchmark: a full recompute for ~14,000 buurten and 1,000,000 signal facts.

    .venv/bin/python -m services.indicators.bench_recompute [n_buurten] [n_facts]

Builds a synthetic country (demo_data.generate_national) and random signal facts in a fresh
SQLite file, then times what the snapshot worker does when it builds a period whole (at start,
when a month begins, when the register changes): `PeriodState.build` of a rolling 12-month
period still open (so, as for the current period, public and raw counts: two GROUP BY passes),
its roll-up, disclosure control per component (secondary suppression and its audit, cell
keys) and the composite index, then every area's row made and stored in one transaction.
That is the figure printed last. (The worker's protection child builds its own copy of the
public side meanwhile, on the other core: not timed.) After it, once, the reference engine
(`compute_period`, the whole country in one protection), which tests check the worker
against; no read or round calls it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from services.indicators.composite import METHOD_VERSION
from services.indicators.computation.definitions import SIGNAL_CATEGORIES
from services.indicators.computation.periods import parse_period
from services.indicators.computation.service import compute_period, public_cutoffs
from services.indicators.demo_data import generate_national
from services.indicators.register.service import STAT_COLUMN
from services.indicators.snapshots import store
from services.indicators.snapshots.state import PeriodState
from shared.areacodes import AreaLevel
from shared.db import create_engine, sessionmaker
from tools.migrate import upgrade

SEVERITIES = ("low", "medium", "high", "acute")


def months_until(last: str, count: int) -> list[str]:
    """The `count` months ending with `last` (YYYY-MM), oldest first."""
    year, month = map(int, last.split("-"))
    end = year * 12 + month - 1
    return [f"{i // 12}-{i % 12 + 1:02d}" for i in range(end - count + 1, end + 1)]


def fill(path: Path, n_buurten: int, n_facts: int, until: str | None = None) -> None:
    """A synthetic country and `n_facts` signal facts in the migrated database at `path`.

    The facts fall in 2025-2026 (what the recompute figure has always measured), or, with
    `until` (YYYY-MM), in the 24 months ending with it: a service started on them has data
    in the current rolling period whatever today's date.
    """
    data = generate_national(n_buurten=n_buurten)
    year = data.years[-1]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO areas (code, level, name, parent_code, synthetic, updated_at) "
        "VALUES (?, ?, ?, ?, 1, '2026-11-01 00:00:00.000000')",
        [(a.code, a.level.value, a.name, a.parent_code) for a in data.areas])
    columns = list(STAT_COLUMN.values())
    conn.executemany(
        f"INSERT INTO area_statistics (code, year, {', '.join(columns)}) "  # noqa: S608
        f"VALUES (?, ?, {', '.join('?' * len(columns))})",
        [(a.code, year, *(a.stats[year][s] for s in STAT_COLUMN)) for a in data.areas])
    buurten = [a.code for a in data.by_level(AreaLevel.BUURT)]
    rng = random.Random(7)  # noqa: S311 (synthetic data)
    households = [f"hh{i}" for i in range(n_facts // 3)]
    home = {h: rng.choice(buurten) for h in households}
    key = {h: rng.getrandbits(32) for h in households}  # record keys (cell-key method)
    months = None if until is None else months_until(until, 24)
    day = "15" if until is None else "01"  # not after today in the current month
    rows = []
    for _ in range(n_facts):
        h = rng.choice(households)
        if months is None:
            month = f"{rng.choice((2025, 2026))}-{rng.randint(1, 12):02d}"
        else:
            month = rng.choice(months)
        at = f"{month}-{day} 10:00:00.000000"
        rows.append((str(uuid.uuid4()), home[h], rng.choice(SIGNAL_CATEGORIES),
                     rng.choice(SEVERITIES), rng.random() < 0.02, month, h, at, at, key[h]))
    conn.executemany(
        "INSERT INTO signal_facts (signal_id, area_code, category, severity, acute, month, "
        "household_stats_pseudonym, observed_at, recorded_at, record_key) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


PERIOD = "rolling-12m:2026-11"
# Within the period's grace days: still open, whatever the day the benchmark runs.
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


async def measure(url: str, reference: bool = False) -> tuple[float, int]:
    """Seconds and areas of the worker's whole build of PERIOD (with `reference`: of the
    reference engine's computation)."""
    engine = create_engine(url)
    sessions = sessionmaker(engine)
    period = parse_period(PERIOD)
    try:
        started = time.perf_counter()
        async with sessions() as session:
            if reference:
                areas = len((await compute_period(session, period)).areas)
                return time.perf_counter() - started, areas
            state = await PeriodState.build(session, period, public_cutoffs(period, NOW))
            w = await state.write(session, set(state.codes()), whole=True)
        async with sessions() as session, session.begin():
            await store.write(session, w.period, w.rows, whole=True, index_json=w.index_json,
                              computed_at=NOW, data_until=w.data_until,
                              method_version=METHOD_VERSION)
        return time.perf_counter() - started, len(w.rows)
    finally:
        await engine.dispose()


def main() -> None:
    n_buurten = int(sys.argv[1]) if len(sys.argv) > 1 else 14_000
    n_facts = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade("indicators", url)
        started = time.perf_counter()
        fill(path, n_buurten, n_facts)
        print(f"setup: {n_buurten} buurten, {n_facts} facts in "
              f"{time.perf_counter() - started:.1f} s")
        best = float("inf")
        for attempt in (1, 2):
            elapsed, areas = asyncio.run(measure(url))
            best = min(best, elapsed)
            print(f"the worker's whole build #{attempt}: {elapsed:.2f} s for {areas} areas, "
                  "stored")
        elapsed, areas = asyncio.run(measure(url, reference=True))
        print(f"reference engine (compute_period): {elapsed:.2f} s for {areas} areas")
        print(f"seconds={best}")  # read by `make bench`


if __name__ == "__main__":
    main()
