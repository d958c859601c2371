"""Indicators at national scale: 14,000 buurten and 1,000,000 signal facts, under intake.

The indicators database is filled before the service starts (`bench_recompute.fill`, the facts
in the 24 months up to this one, so the current rolling period has data; the filled file is
kept in var/bench-cache, keyed by its parameters and the code that made it, and copied per
run). Signals and indicators run under uvicorn with the broker; 200 signals/s go in, spread
over the register's buurten. After the first read, the snapshot worker gets up to 300 s to
work off what came in while it computed the periods at start-up (`_catch_up`, reported with the
warm-up). Then, in turns, each under that intake:

- the framework's ceiling: hello-world with the same 50 connections;
- 50 analysts (closed loop) read areas' indicators (buurt, wijk, gemeente in turn);
- 50 analysts read the buurt ranking of one indicator (all 14,000 buurten, 1.5 MB);
- 50 analysts read its first page (as the console shows it);
- every 100 ms a probe signal to a buurt that gets no background load, and an admin's raw
  indicators of that buurt polled until its signal count has gone up by one (split at the
  moment its fact is in the indicators database: the consumer's part and the worker's). The
  read phases hold both cores and leave the worker a backlog: before the probes it gets up to
  300 s again to work it off (`_catch_up`, reported with the probe's row).

How long anything held the indicators service's event loop is its own histogram of the
loop's lag (`shared.looplag`, on /metrics), read before and after each phase (target: never
over 50 ms). A separate process also asks its /livez every 10 ms throughout, as a
liveness probe would: that answer also waits its turn among the readers' requests. Before
each phase the service gets up to 90 s to work off what the previous one left (`watch.settle`).
Timeouts are generous (first read 120 s, a read 120 s, a probe 60 s) so that a slow service
shows slow figures rather than a failed row.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import shutil
import sqlite3
import time
from collections.abc import Iterable
from contextlib import AsyncExitStack, ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.load import LoadResult, run_load
from benchmarks.procs import peak_rss_mb, uvicorn
from benchmarks.report import Row
from benchmarks.scenarios import (
    ROOT,
    Tally,
    percentile,
    platform_env,
    probe_every,
    signal_body,
    steady_load,
    token,
)
from benchmarks.watch import (
    LivezWatch,
    LoopReading,
    consumer_lag,
    loop_between,
    loop_reading,
    settle,
)
from services.indicators.computation.definitions import SIGNALLED_RATE, SIGNALS

N_BUURTEN = 14_000
N_FACTS = 1_000_000
RATE = 200.0  # signals/s of background intake
READERS = 50
RANKING_PAGE = 100  # areas per page, as the console reads a ranking
PROBE_BUURTEN = 1_000  # kept out of the background load, so a probe is the only change
CACHE = ROOT / "var" / "bench-cache"
CONSUMER_JOIN_S = 8.0
WARM_UP_S = 120.0  # until the first read succeeds
SETTLED_LAG = int(RATE / 2)  # messages: the consumer within half a second of intake
CATCH_UP_S = 300.0  # after warm-up, until a signal is visible within CAUGHT_UP_S
CAUGHT_UP_S = 2.0
READ_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 60.0
TARGET_READ_P99_S = 0.050
TARGET_VISIBLE_P99_S = 0.250
TARGET_BLOCK_S = 0.050
# What the filled database depends on besides its parameters: a change makes a new one.
FILL_SOURCES = ("services/indicators/bench_recompute.py", "services/indicators/demo_data.py",
                "services/indicators/migrations/versions")


def _digest(paths: Iterable[str]) -> str:
    h = hashlib.sha256()
    for name in paths:
        root = ROOT / name
        for f in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def filled_database(n_buurten: int, n_facts: int, until: str) -> Path:
    """A migrated indicators database with the country and its facts (made once, ~20 s)."""
    from services.indicators.bench_recompute import fill
    from tools.migrate import upgrade

    name = f"indicators-{n_buurten}-{n_facts}-{until}-{_digest(FILL_SOURCES)}.db"
    path = CACHE / name
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob("indicators-*.db"):  # hundreds of MB each: keep only the current
        stale.unlink()
    partial = CACHE / (name + ".filling")
    partial.unlink(missing_ok=True)
    upgrade("indicators", f"sqlite+aiosqlite:///{partial}")
    fill(partial, n_buurten, n_facts, until=until)
    partial.replace(path)
    return path


def register_codes(db: Path) -> dict[str, list[str]]:
    """The register's area codes by level."""
    conn = sqlite3.connect(db)
    try:
        by_level: dict[str, list[str]] = {}
        for code, level in conn.execute("SELECT code, level FROM areas ORDER BY code"):
            by_level.setdefault(level, []).append(code)
        return by_level
    finally:
        conn.close()


def current_month() -> str:
    return f"{datetime.now(UTC):%Y-%m}"


def _raw_signals(body: dict[str, Any]) -> float:
    for value in body.get("values", []):
        if value.get("indicatorId") == SIGNALS:
            return float(value.get("value") or 0)
    return 0.0


async def first_read(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    """The first successful read of `path` and how long the wait for it took."""
    started = time.perf_counter()
    last = "no answer"
    while time.perf_counter() - started < WARM_UP_S:
        try:
            r = await client.get(path)
            if r.status_code == 200:
                return r, time.perf_counter() - started
            last = f"{r.status_code} {r.text[:120]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        await asyncio.sleep(1)
    raise RuntimeError(f"no successful read of {path} within {WARM_UP_S:.0f} s: {last}")


BLOCK_TARGET = f"loop lag < {TARGET_BLOCK_S * 1000:.0f} ms"


def _read_row(name: str, r: LoadResult, ceiling: LoadResult) -> Row:
    """A read phase's row; its /livez figure and resident size are added at the end."""
    p99 = r.percentile(99)
    ratio = r.throughput / ceiling.throughput if ceiling.throughput else None
    ok = r.requests > 0 and r.errors == 0 and p99 < TARGET_READ_P99_S
    return Row(name, f"{r.throughput:.1f} req/s", r.percentile(50) * 1000, p99 * 1000, None,
               ratio, f"p99 < {TARGET_READ_P99_S * 1000:.0f} ms, {BLOCK_TARGET}", ok,
               f"{r.requests} reads, {r.errors} errors {dict(sorted(r.statuses.items()))} "
               f"(status 0: no answer within {READ_TIMEOUT_S:.0f} s)")


async def indicators_national(seconds: float, n_buurten: int = N_BUURTEN,
                              n_facts: int = N_FACTS) -> list[Row]:
    until = current_month()
    filling = time.perf_counter()
    source = await asyncio.to_thread(filled_database, n_buurten, n_facts, until)
    filled_s = time.perf_counter() - filling
    scale = f"{n_buurten:,} buurten, {n_facts / 1e6:g}M facts"
    with platform_env() as env, ExitStack() as procs:
        db = Path(env["DDK_INDICATORS_DATABASE_URL"].split("///", 1)[1])
        await asyncio.to_thread(shutil.copyfile, source, db)
        codes = register_codes(db)
        buurten = codes["buurt"]
        probes, background = buurten[-PROBE_BUURTEN:], buurten[:-PROBE_BUURTEN]
        random.Random(5).shuffle(background)  # noqa: S311 (load spread, not secrets)
        hport, hproc = procs.enter_context(uvicorn("benchmarks.hello:app"))
        sport, _ = procs.enter_context(uvicorn("services.signals.app:app", env, factory=True))
        iport, iproc = procs.enter_context(uvicorn("services.indicators.app:app", env,
                                                   factory=True))
        watch = procs.enter_context(LivezWatch(iport))
        analyst_token = token(env, "analyst", "demo-municipality")
        field_h = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}
        admin_h = {"Authorization": f"Bearer {token(env, 'admin', 'demo-municipality')}"}
        base = f"http://127.0.0.1:{iport}"
        async with AsyncExitStack() as clients:
            signals = await clients.enter_async_context(httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{sport}", headers=field_h, timeout=30))
            analyst = await clients.enter_async_context(httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {analyst_token}"},
                timeout=READ_TIMEOUT_S))
            admin = await clients.enter_async_context(httpx.AsyncClient(
                base_url=base, headers=admin_h, timeout=READ_TIMEOUT_S))
            await asyncio.sleep(CONSUMER_JOIN_S)  # the consumer joins its group
            tally = Tally()
            stop_intake = asyncio.Event()
            intake = asyncio.create_task(steady_load(
                signals, RATE, float("inf"), tally, area_codes=background, until=stop_intake))
            rows: list[Row] = []
            windows: list[tuple[float, float]] = []
            began = time.monotonic()
            try:
                await _phases(seconds, analyst, admin, signals, analyst_token, codes, probes,
                              hport, iport, iproc.pid, tally, scale, rows, windows, db)
            except Exception as exc:  # the phases measured so far still count
                rows.append(Row("indicators-national", "failed", None, None, None, None, "",
                                False, f"after {len(rows)} phases: {exc!r}"))
                windows.append((windows[-1][1] if windows else began, time.monotonic()))
            finally:
                stop_intake.set()
                await intake
            rss = peak_rss_mb(iproc.pid)
            for row in rows:
                if row.scenario.startswith("hello-world"):
                    row.peak_rss_mb = peak_rss_mb(hproc.pid)
    # The watch has its samples only now that it stopped: the notes on /livez come last.
    for row, (start, end) in zip(rows, windows, strict=True):
        if row.peak_rss_mb is None:
            row.peak_rss_mb = rss
        row.note += f"; {watch.between(start, end)}"
    rows[0].note += (f"; database ready in {filled_s:.0f} s (filled once per parameters, "
                     "then copied from var/bench-cache)")
    return rows


async def _phases(seconds: float, analyst: httpx.AsyncClient, admin: httpx.AsyncClient,
                  signals: httpx.AsyncClient, analyst_token: str, codes: dict[str, list[str]],
                  probes: list[str], hport: int, iport: int, ipid: int, tally: Tally,
                  scale: str, rows: list[Row], windows: list[tuple[float, float]], db: Path
                  ) -> None:
    """The measured phases, in turn: their rows, and when each ran (time.monotonic)."""
    gemeente = codes["gemeente"][0]
    began = time.monotonic()
    _, waited = await first_read(analyst, f"/v1/areas/{gemeente}/indicators")
    first, _ = await first_read(
        admin, f"/v1/indicators?level=buurt&indicator={SIGNALS}")
    baseline = {i["areaCode"]: float(i["value"] or 0) for i in first.json()["items"]}
    caught_up = await _catch_up(signals, admin, probes[0], baseline)
    rows.append(Row(f"indicators national: warm-up ({scale})", f"{waited:.1f} s", None, None,
                    None, None, "", True, "start + 8 s consumer join -> an analyst's first "
                    f"read of a gemeente; {caught_up}"))
    windows.append((began, time.monotonic()))

    phase_s = max(seconds, 10.0)
    hello_body = orjson.dumps({"name": "x" * 40})
    settled = await settle(admin, SETTLED_LAG)
    began = time.monotonic()
    ceiling = await run_load("127.0.0.1", hport, lambda i: ("POST", "/hello", hello_body),
                             headers={}, connections=READERS, seconds=max(5.0, phase_s / 2))
    rows.append(Row(f"hello-world ceiling, {READERS} connections, under {RATE:.0f} signals/s",
                    f"{ceiling.throughput:.0f} req/s", ceiling.percentile(50) * 1000,
                    ceiling.percentile(99) * 1000, None, 1.0, "", True,
                    f"{ceiling.errors} errors; the same intake as the reads; {settled}"))
    windows.append((began, time.monotonic()))

    rng = random.Random(11)  # noqa: S311 (which areas are read)
    levels = [codes["buurt"], codes["wijk"], codes["gemeente"]]
    auth = {"Authorization": f"Bearer {analyst_token}"}
    # As browsers and httpx (the console) ask unasked: kept answers then go gzipped.
    gzip = {**auth, "Accept-Encoding": "gzip, deflate"}

    def area_read(i: int) -> tuple[str, str, bytes]:
        return "GET", f"/v1/areas/{rng.choice(levels[i % 3])}/indicators", b""

    ranking = f"/v1/indicators?level=buurt&indicator={SIGNALLED_RATE}"
    first_page = f"{ranking}&limit={RANKING_PAGE}"
    for name, make, headers in (
            ("an area's indicators (buurt/wijk/gemeente in turn)", area_read, gzip),
            ("the buurt ranking of " + SIGNALLED_RATE, lambda i: ("GET", ranking, b""), gzip),
            (f"the buurt ranking of {SIGNALLED_RATE}, uncompressed (no Accept-Encoding)",
             lambda i: ("GET", ranking, b""), auth),
            (f"the first page ({RANKING_PAGE}) of that ranking",
             lambda i: ("GET", first_page, b""), gzip)):
        settled = await settle(admin, SETTLED_LAG)
        began, loop = time.monotonic(), await loop_reading(admin, ipid)
        r = await run_load("127.0.0.1", iport, make, headers=headers, connections=READERS,
                           seconds=phase_s, response_s=READ_TIMEOUT_S)
        rows.append(_read_row(f"indicators national: {READERS} analysts read {name}", r,
                              ceiling))
        windows.append((began, time.monotonic()))
        await _judge_loop(admin, ipid, rows[-1], loop)
        rows[-1].note += (f"; consumer {await consumer_lag(admin)} messages behind at the "
                          f"end; {settled}")

    settled = await settle(admin, SETTLED_LAG)
    # The read phases held both cores: the worker's backlog of them is not the steady state.
    caught_up = await _catch_up(signals, admin, probes[0], baseline, "the read phases'")
    began, loop = time.monotonic(), await loop_reading(admin, ipid)
    rows.append(await _visible(max(seconds, 20.0), signals, admin, probes, baseline, tally,
                               db))
    windows.append((began, time.monotonic()))
    await _judge_loop(admin, ipid, rows[-1], loop)
    rows[-1].note += f"; {settled}; {caught_up}"


async def _judge_loop(admin: httpx.AsyncClient, pid: int, row: Row, before: LoopReading
                      ) -> None:
    """The loop in the phase since `before`: noted, and its lag judged where a target."""
    note, over = loop_between(before, await loop_reading(admin, pid), TARGET_BLOCK_S)
    row.note += f"; {note}"
    if BLOCK_TARGET in row.target and over != 0:
        row.ok = False


async def _catch_up(signals: httpx.AsyncClient, admin: httpx.AsyncClient, code: str,
                    baseline: dict[str, float], backlog: str = "the start-up") -> str:
    """Wait (at most CATCH_UP_S) until a signal is visible within CAUGHT_UP_S: the backlog
    the worker built up while it computed the periods at start-up (under intake), or while
    the read phases held both cores, is worked off, and the next phase measures the steady
    state."""
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < CATCH_UP_S:
        baseline[code] = baseline.get(code, 0.0) + 1
        i += 1
        posted = time.perf_counter()
        r = await signals.post("/v1/signals", json=signal_body(10_000 + i, area=code))
        if r.status_code != 201:
            baseline[code] -= 1
            await asyncio.sleep(1)
            continue
        while time.perf_counter() - started < CATCH_UP_S:
            with contextlib.suppress(httpx.HTTPError):
                c = await admin.get(f"/v1/areas/{code}/indicators")
                if c.status_code == 200 and _raw_signals(c.json()) >= baseline[code]:
                    break
            await asyncio.sleep(0.1)
        if time.perf_counter() - posted < CAUGHT_UP_S:
            return (f"the worker caught up with {backlog} backlog "
                    f"in {time.perf_counter() - started:.0f} s")
    return f"the worker had not caught up with {backlog} backlog in {CATCH_UP_S:.0f} s"


def _facts_among(conn: sqlite3.Connection, ids: list[str]) -> list[str]:
    """Those of the signal `ids` whose fact the indicators database holds."""
    marks = ",".join("?" * len(ids))
    query = f"SELECT signal_id FROM signal_facts WHERE signal_id IN ({marks})"  # noqa: S608
    return [row[0] for row in conn.execute(query, ids)]


async def _visible(seconds: float, signals: httpx.AsyncClient, admin: httpx.AsyncClient,
                   probes: list[str], baseline: dict[str, float], tally: Tally, db: Path
                   ) -> Row:
    """Probe signal posted -> an admin's raw signal count of its buurt up by one. Split in
    two: until the indicators service stored its fact (its consumer; the database is read
    for it every 20 ms), and from then on (the snapshot worker and the readers)."""
    expected = {code: baseline.get(code, 0.0) for code in probes}
    lags: list[float] = []
    stored_lags: list[float] = []
    posted: dict[str, float] = {}  # signal id -> when it was posted, until its fact is seen
    stored_at: dict[str, float] = {}
    refused = 0
    done = asyncio.Event()

    async def watch_facts() -> None:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
        try:
            while not done.is_set():
                ids = list(posted)
                if ids:
                    found = await asyncio.to_thread(_facts_among, conn, ids)
                    for signal_id in found:
                        stored_at[signal_id] = time.perf_counter()
                        stored_lags.append(stored_at[signal_id] - posted.pop(signal_id))
                await asyncio.sleep(0.02)
        finally:
            conn.close()

    async def probe(i: int) -> None:
        nonlocal refused
        code = probes[i % len(probes)]
        expected[code] += 1
        wanted = expected[code]
        t0 = time.perf_counter()
        body = signal_body(i, area=code)
        posted[str(body["id"])] = t0
        r = await signals.post("/v1/signals", json=body)
        if r.status_code != 201:
            refused += 1
            posted.pop(str(body["id"]), None)
            return
        while (left := PROBE_TIMEOUT_S - (time.perf_counter() - t0)) > 0:
            try:
                c = await admin.get(f"/v1/areas/{code}/indicators", timeout=left)
                if c.status_code == 200 and _raw_signals(c.json()) >= wanted:
                    lags.append(time.perf_counter() - t0)
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)  # polls cost the service too: 20 per second per probe

    watcher = asyncio.create_task(watch_facts())
    sent_before, began = tally.sent, time.perf_counter()
    i = await probe_every(0.1, began + seconds, probe)
    done.set()
    await watcher
    lags.sort()
    stored_lags.sort()
    stored_p50, stored_p99 = percentile(stored_lags, 50), percentile(stored_lags, 99)
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    intake = (tally.sent - sent_before) / (time.perf_counter() - began)
    return Row(f"indicators national: signal -> indicator visible, under {RATE:.0f} signals/s",
               f"{intake:.0f} signals/s", p50 * 1000, p99 * 1000, None, None,
               f"p99 < {TARGET_VISIBLE_P99_S * 1000:.0f} ms, {BLOCK_TARGET}",
               bool(lags) and p99 < TARGET_VISIBLE_P99_S and len(lags) == i,
               f"{len(lags)}/{i} probes seen within {PROBE_TIMEOUT_S:.0f} s, {refused} refused; "
               f"of which until the fact was stored: p50 {stored_p50 * 1000:.0f} ms, p99 "
               f"{stored_p99 * 1000:.0f} ms; "
               f"intake so far {tally.sent} sent, {tally.created} stored, "
               f"{tally.failed_batches} failed batches")
