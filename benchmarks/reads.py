"""What an indicators read costs the API: a small country, no intake, in turns with hello-world.

The national scenario (benchmarks.national) judges the targets, but one run takes ten minutes
and its figures move with the snapshot worker's backlog and the machine's load. This one
isolates the API's own cost of the two busiest reads, for comparing code
(`python -m benchmarks.ab --only indicators-reads`: server CPU per request against
hello-world's): 2,000 buurten and 200,000 facts, the stored snapshots built before the first
phase, then 50 analysts read areas' indicators (buurt, wijk, gemeente in turn), and the first
page of a buurt ranking, each in turns with hello-world (as the single POST is measured).
No target: the row's ratio is the median of the turns' ratios to hello-world.
"""

from __future__ import annotations

import random
import shutil
import statistics
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson

from benchmarks.load import LoadResult, run_load
from benchmarks.national import (
    RANKING_PAGE,
    READERS,
    current_month,
    filled_database,
    first_read,
    register_codes,
)
from benchmarks.procs import peak_rss_mb, uvicorn
from benchmarks.report import Row
from benchmarks.scenarios import platform_env, token
from services.indicators.computation.definitions import SIGNALLED_RATE

N_BUURTEN = 2_000
N_FACTS = 200_000
ROUNDS = 3


async def indicators_reads(seconds: float) -> list[Row]:
    source = filled_database(N_BUURTEN, N_FACTS, current_month())
    hello_body = orjson.dumps({"name": "x" * 40})
    with platform_env() as env, ExitStack() as procs:
        db = Path(env["DDK_INDICATORS_DATABASE_URL"].split("///", 1)[1])
        shutil.copyfile(source, db)
        codes = register_codes(db)
        hport, _ = procs.enter_context(uvicorn("benchmarks.hello:app"))
        iport, iproc = procs.enter_context(uvicorn("services.indicators.app:app", env,
                                                   factory=True))
        auth = {"Authorization": f"Bearer {token(env, 'analyst', 'demo-municipality')}"}
        page = f"/v1/indicators?level=buurt&indicator={SIGNALLED_RATE}&limit={RANKING_PAGE}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{iport}", headers=auth,
                                     timeout=60) as client:
            await first_read(client, f"/v1/areas/{codes['gemeente'][0]}/indicators")
            await first_read(client, page)
        rng = random.Random(11)  # noqa: S311 (which areas are read)
        levels = [codes["buurt"], codes["wijk"], codes["gemeente"]]

        def area(i: int) -> tuple[str, str, bytes]:
            return "GET", f"/v1/areas/{rng.choice(levels[i % 3])}/indicators", b""

        async def load(port: int, make: Callable[[int], tuple[str, str, bytes]],
                       headers: dict[str, str], s: float) -> LoadResult:
            return await run_load("127.0.0.1", port, make, headers=headers,
                                  connections=READERS, seconds=s)

        def hello(i: int) -> tuple[str, str, bytes]:
            return "POST", "/hello", hello_body

        slice_s = max(seconds, 3.0) / ROUNDS
        rows: list[Row] = []
        for name, make in (("an area's indicators (buurt/wijk/gemeente in turn)", area),
                           (f"the first page ({RANKING_PAGE}) of a buurt ranking",
                            lambda i: ("GET", page, b""))):
            await load(iport, make, auth, 1.0)  # warm-up, not counted
            hellos, reads = [], []
            for _ in range(ROUNDS):
                hellos.append(await load(hport, hello, {}, slice_s))
                reads.append(await load(iport, make, auth, slice_s))
            base, read = LoadResult.merged(hellos), LoadResult.merged(reads)
            ratios = [r.throughput / h.throughput for h, r in zip(hellos, reads, strict=True)
                      if h.throughput]
            rows.append(Row(
                f"indicators reads ({N_BUURTEN:,} buurten, no intake): {READERS} analysts "
                f"read {name}", f"{read.throughput:.0f} req/s", read.percentile(50) * 1000,
                read.percentile(99) * 1000, peak_rss_mb(iproc.pid),
                statistics.median(ratios) if ratios else None, "", read.errors == 0,
                f"{read.errors} errors {dict(sorted(read.statuses.items()))}; hello-world "
                f"{base.throughput:.0f} req/s in turns, {ROUNDS} x {slice_s:.1f} s"))
        return rows
