"""The soak: a steady stream of signals for minutes, then proof nothing was lost or leaked.

Signals go in at `rate` per second (batches, as apps coming back online send them) to 50
buurten; the indicators service consumes them. At the end every accepted signal must be counted
in the indicators read model exactly once, and neither service's resident memory may grow
between the first and the last minute (after a warm-up) by more than `GROWTH_LIMIT`.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from benchmarks.procs import peak_rss_mb, rss_mb, uvicorn
from benchmarks.report import Row
from benchmarks.scenarios import Tally, platform_env, steady_load, token

AREAS = 50
WARM_UP_S = 30.0
GROWTH_LIMIT = 0.15  # of the early resident size: caches settle, a leak keeps climbing


async def soak(seconds: float = 300.0, rate: float = 200.0) -> Row:
    with platform_env() as env, \
            uvicorn("services.signals.app:app", env, factory=True) as (sport, sproc), \
            uvicorn("services.indicators.app:app", env, factory=True) as (iport, iproc):
        field = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}
        admin = {"Authorization": f"Bearer {token(env, 'admin', 'demo-municipality')}"}
        tally = Tally()
        samples: list[tuple[float, float, float]] = []  # (t, signals MB, indicators MB)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sport}", headers=field,
                                     timeout=30) as signals, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{iport}", headers=admin,
                                  timeout=30) as indicators:

            async def sample(stop: float) -> None:
                while time.perf_counter() < stop:
                    samples.append((time.perf_counter(), rss_mb(sproc.pid), rss_mb(iproc.pid)))
                    await asyncio.sleep(5)

            async def counted() -> int:
                total = 0
                for a in range(AREAS):
                    r = await indicators.get(f"/v1/areas/BU0599X0{a:02d}/signal-counts")
                    total += r.json()["signals"] if r.status_code == 200 else 0
                return total

            await asyncio.sleep(8)  # the consumer joins its group
            started = time.perf_counter()
            stop = started + seconds
            sampler = asyncio.create_task(sample(stop))
            await steady_load(signals, rate, stop, tally, areas=AREAS)
            await sampler
            drain_started = time.perf_counter()
            seen = await counted()
            while seen != tally.created and time.perf_counter() - drain_started < 120:
                await asyncio.sleep(1)
                seen = await counted()
            drained_s = time.perf_counter() - drain_started
        peak = max(peak_rss_mb(sproc.pid), peak_rss_mb(iproc.pid))
    growth = {"signals": _growth([(t - started, s_mb) for t, s_mb, _ in samples]),
              "indicators": _growth([(t - started, i_mb) for t, _, i_mb in samples])}
    flat = all(g <= GROWTH_LIMIT for g in growth.values())
    exact = seen == tally.created == tally.sent and tally.failed_batches == 0
    return Row(f"soak {seconds:.0f} s at {rate:.0f} signals/s",
               f"{tally.created / seconds:.0f} signals/s", None, None,
               peak, None,
               "nothing lost, memory flat", exact and flat,
               f"{tally.sent} sent, {tally.created} stored, {seen} counted "
               f"(drained {drained_s:.1f} s after load); RSS growth first->last minute "
               + ", ".join(f"{n} {g * 100:+.1f}%" for n, g in growth.items()))


def _growth(series: list[tuple[float, float]]) -> float:
    """Median resident size of the last minute against the first minute after warm-up."""
    settled = [(t, mb) for t, mb in series if t >= WARM_UP_S]
    if len(settled) < 4:
        return float("nan")
    end = settled[-1][0]
    first = [mb for t, mb in settled if t < WARM_UP_S + 60] or [settled[0][1]]
    last = [mb for t, mb in settled if t > end - 60] or [settled[-1][1]]
    return statistics.median(last) / statistics.median(first) - 1

