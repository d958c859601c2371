"""The benchmark scenarios. Each returns a Row; HTTP ones are compared to hello-world."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.load import LoadResult, run_load
from benchmarks.procs import peak_rss_mb, uvicorn
from benchmarks.report import Row
from tools.broker import embedded_broker
from tools.devtoken import ensure_key_pair, mint
from tools.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def platform_env() -> Iterator[dict[str, str]]:
    """A broker, fresh SQLite databases and dev keys in a temp folder."""
    with tempfile.TemporaryDirectory() as tmp, embedded_broker() as broker:
        keys = Path(tmp) / "keys"
        ensure_key_pair(keys)
        env = {"DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
               "DDK_AUTH_PUBLIC_KEY_FILE": str(keys / "issuer-public.pem"),
               "DDK_LOG_LEVEL": "WARNING", "DDK_KEY_DIR": str(keys),
               "DDK_RATE_LIMIT_PER_SECOND": "0"}
        for service in ("signals", "indicators", "funding"):
            url = f"sqlite+aiosqlite:///{Path(tmp) / service}.db"
            upgrade(service, url)
            env[f"DDK_{service.upper()}_DATABASE_URL"] = url
        yield env


def token(env: dict[str, str], role: str, org: str) -> str:
    return mint([role], org, key_dir=Path(env["DDK_KEY_DIR"]))


def signal_body(i: int, area: str = "BU05990101") -> dict[str, object]:
    observed = datetime.now(UTC) - timedelta(hours=1)
    return {"id": str(uuid.uuid4()), "category": "nuisance", "subcategory": "noise",
            "severity": "medium", "observedAt": observed.isoformat(), "areaCode": area,
            "postcode": "3071AB", "houseNumber": 10 + i % 90,
            "note": "Geluidsoverlast 's nachts, buren klagen al weken." * 3}


def percentile(ordered: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) of values in ascending order; nan when there are none."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def probe_every(interval_s: float, until: float,
                      probe: Callable[[int], Coroutine[Any, Any, None]]) -> int:
    """Start `probe(0)`, `probe(1)`, ... every `interval_s` until `until` (perf_counter),
    then wait for all of them; returns how many were started."""
    tasks: list[asyncio.Task[None]] = []
    while time.perf_counter() < until:
        tasks.append(asyncio.create_task(probe(len(tasks))))
        await asyncio.sleep(interval_s)
    await asyncio.gather(*tasks)
    return len(tasks)


HELLO = "hello-world (bare FastAPI, validated body)"
SINGLE = "signal intake, single (validated, encrypted, stored, outboxed)"


async def hello_and_single(seconds: float, rounds: int = 5) -> list[Row]:
    """The baseline and the single POST, in turns: `rounds` slices of `seconds / rounds` each.

    Both servers run side by side and take the load in turn, so a slower or faster spell of
    the machine (the same code measured between 0.17x and 0.25x when the two ran one after
    the other) falls on both. The ratio is the median of the slices' ratios.
    """
    slice_s = seconds / rounds
    hello_body = orjson.dumps({"name": "x" * 40})
    with uvicorn("benchmarks.hello:app") as (hport, hproc), platform_env() as env, \
            uvicorn("services.signals.app:app", env, factory=True) as (sport, sproc):
        auth = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}

        async def load_hello(s: float) -> LoadResult:
            return await run_load("127.0.0.1", hport, lambda i: ("POST", "/hello", hello_body),
                                  headers={}, seconds=s)

        async def load_single(s: float) -> LoadResult:
            return await run_load(
                "127.0.0.1", sport,
                lambda i: ("POST", "/v1/signals", orjson.dumps(signal_body(i))),
                headers=auth, seconds=s)

        await load_hello(1.0)  # warm-up, not counted
        await load_single(1.0)
        hellos, singles = [], []
        for _ in range(rounds):
            hellos.append(await load_hello(slice_s))
            singles.append(await load_single(slice_s))
        base, single = LoadResult.merged(hellos), LoadResult.merged(singles)
        ratios = [s.throughput / h.throughput for h, s in zip(hellos, singles, strict=True)
                  if h.throughput]
        ratio = statistics.median(ratios) if ratios else None
        turns = ", ".join(f"{r:.2f}" for r in ratios)  # in the order they ran
        return [
            Row(HELLO, f"{base.throughput:.0f} req/s", base.percentile(50) * 1000,
                base.percentile(99) * 1000, peak_rss_mb(hproc.pid), 1.0,
                note=f"{base.errors} errors; in turns with the next row, {rounds} x "
                     f"{slice_s:.0f} s each"),
            Row(SINGLE, f"{single.throughput:.0f} req/s", single.percentile(50) * 1000,
                single.percentile(99) * 1000, peak_rss_mb(sproc.pid), ratio, ">= 0.30x",
                bool(ratio and ratio >= 0.30 and single.errors == 0),
                f"{single.errors} errors {dict(sorted(single.statuses.items()))}; "
                f"median of turns {turns}"),
        ]


async def signal_batch(seconds: float) -> Row:
    with platform_env() as env, uvicorn("services.signals.app:app", env, factory=True) as (
            port, proc):
        auth = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}

        def batch(i: int) -> tuple[str, str, bytes]:
            return "POST", "/v1/signals/batch", orjson.dumps(
                [signal_body(j) for j in range(500)])

        r = await run_load("127.0.0.1", port, batch, headers=auth, connections=1,
                           seconds=max(5.0, seconds / 2))
        p99 = r.percentile(99)
        return Row("signal intake, batch of 500", f"{r.throughput * 500:.0f} signals/s",
                   r.percentile(50) * 1000, p99 * 1000, peak_rss_mb(proc.pid), None,
                   "< 1 s per batch", p99 < 1.0 and r.errors == 0,
                   f"{r.requests} batches, {r.errors} errors")


def module_bench(name: str, module: str, target: str, limit_s: float) -> Callable[[], Row]:
    """A pure-Python benchmark module that prints `seconds=<float>` as its last line."""

    def run() -> Row:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True,
                             cwd=ROOT, check=False)
        figure = None
        for line in out.stdout.splitlines():
            if line.startswith("seconds="):
                figure = float(line.split("=", 1)[1])
        if figure is None:
            return Row(name, "failed", None, None, None, None, target, False,
                       (out.stderr or out.stdout)[-200:].replace("\n", " "))
        return Row(name, f"{figure * 1000:.0f} ms", None, None, None, None, target,
                   figure < limit_s, f"whole run {time.perf_counter() - started:.1f} s")

    return run


async def run_all(seconds: float, only: list[str] | None, soak_seconds: float) -> list[Row]:
    wanted = set(only or [])
    rows: list[Row] = []

    def want(name: str) -> bool:
        return not wanted or name in wanted

    if want("signal-single"):
        rows += await hello_and_single(seconds)
    steps: list[tuple[str, Callable[[], Awaitable[Row]]]] = [
        ("signal-batch", lambda: signal_batch(seconds)),
        ("end-to-end-latency", lambda: end_to_end_latency(max(seconds, 20.0))),
        ("webhook-latency", lambda: _webhook_latency(max(seconds, 10.0))),
    ]
    from benchmarks.console import console_national_map, console_pages  # they use this module
    steps += [("console-pages", console_pages), ("console-map-national", console_national_map)]
    for name, step in steps:
        if want(name):
            try:
                rows.append(await step())
            except Exception as exc:  # a broken scenario is reported, not fatal to the rest
                rows.append(Row(name, "failed", None, None, None, None, "", False, repr(exc)))
    for name, module, target, limit in [
        ("allocation-national", "services.funding.bench_allocation",
         "< 50 ms for ~14,000 buurten", 0.05),
        # The snapshot worker's whole build of a period (at start, a new month, a register
        # change), its rows stored.
        ("recompute-national", "services.indicators.bench_recompute",
         "< 10 s for 14,000 buurten, 1M signals", 10.0),
        # The loop's budget at national intake: 200 signals/s at 1 ms each is a fifth of it.
        ("consumer-indicators", "services.indicators.bench_consumer",
         "< 50 ms of CPU per transaction of 50 signals", 0.05),
    ]:
        if want(name):
            rows.append(await asyncio.to_thread(module_bench(name, module, target, limit)))
    # Imported here: they build on this module.
    from benchmarks.national import indicators_national
    from benchmarks.reads import indicators_reads
    scales: list[tuple[str, Callable[[float], Awaitable[list[Row]]]]] = [
        ("indicators-reads", indicators_reads), ("indicators-national", indicators_national)]
    for name, scenario in scales:
        if want(name):
            try:
                rows += await scenario(seconds)
            except Exception as exc:  # as above: reported, not fatal
                rows.append(Row(name, "failed", None, None, None, None, "", False, repr(exc)))
    if soak_seconds and want("soak"):
        from benchmarks.soak import soak  # it builds on this module's load helpers
        rows.append(await soak(soak_seconds))
    return rows


async def _webhook_latency(seconds: float) -> Row:
    from benchmarks.webhooks import webhook_latency  # it builds on this module's helpers
    return await webhook_latency(seconds)


@dataclass
class Tally:
    sent: int = 0
    created: int = 0
    failed_batches: int = 0


async def steady_load(signals: httpx.AsyncClient, rate: float, stop: float, tally: Tally,
                      areas: int = 50, area_codes: Sequence[str] = (),
                      until: asyncio.Event | None = None) -> None:
    """Apps coming back online send batches: rate/10 signals every 100 ms, to `areas` buurten
    (BU0599X000 onwards), or round-robin to `area_codes` when given; until `stop` (a
    perf_counter time) or `until` is set."""
    codes = list(area_codes) or [f"BU0599X0{a:02d}" for a in range(areas)]
    in_flight: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    ticks = 0

    async def send(batch: list[dict[str, object]]) -> None:
        r = await signals.post("/v1/signals/batch", json=batch)
        if r.status_code == 200:
            tally.created += r.json()["created"]
        else:
            tally.failed_batches += 1

    while time.perf_counter() < stop and not (until and until.is_set()):
        batch = [signal_body(tally.sent + j, area=codes[(tally.sent + j) % len(codes)])
                 for j in range(int(rate / 10))]
        tally.sent += len(batch)
        ticks += 1
        task = asyncio.create_task(send(batch))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        await asyncio.sleep(max(0.0, started + ticks / 10 - time.perf_counter()))
    await asyncio.gather(*in_flight)


async def end_to_end_latency(seconds: float, rate: float = 200.0) -> Row:
    """Signal posted -> counted in the indicators API, while `rate` signals/s flow.

    Background load goes to 50 buurten in batches; every 100 ms a probe signal goes to a
    buurt of its own, and the indicators API (an admin's raw counts, the consumer's read model) is
    polled until it shows that one signal.
    """
    with platform_env() as env, \
            uvicorn("services.signals.app:app", env, factory=True) as (sport, _), \
            uvicorn("services.indicators.app:app", env, factory=True) as (iport, iproc):
        field = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}
        admin = {"Authorization": f"Bearer {token(env, 'admin', 'demo-municipality')}"}
        lags: list[float] = []
        tally = Tally()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sport}", headers=field,
                                     timeout=10) as signals, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{iport}", headers=admin,
                                  timeout=10) as indicators:
            async def probe(i: int) -> None:
                area = f"BU9999P{i // 100:01d}{i % 100:02d}"
                t0 = time.perf_counter()
                r = await signals.post("/v1/signals", json=signal_body(i, area=area))
                if r.status_code != 201:
                    return
                while time.perf_counter() - t0 < 10:
                    c = await indicators.get(f"/v1/areas/{area}/signal-counts")
                    if c.status_code == 200 and c.json().get("signals") == 1:
                        lags.append(time.perf_counter() - t0)
                        return
                    await asyncio.sleep(0.05)  # polls cost the service too: 20 per second

            await asyncio.sleep(8)  # the consumer joins its group
            stop = time.perf_counter() + seconds
            load_task = asyncio.create_task(steady_load(signals, rate, stop, tally))
            i = await probe_every(0.1, stop, probe)
            await load_task
        lags.sort()
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        return Row(f"signal -> indicator visible, under {rate:.0f} signals/s",
                   f"{tally.sent / seconds:.0f} signals/s", p50 * 1000, p99 * 1000,
                   peak_rss_mb(iproc.pid), None, "p99 < 1 s",
                   bool(lags) and p99 < 1.0 and len(lags) == i,
                   f"{len(lags)}/{i} probes seen")
