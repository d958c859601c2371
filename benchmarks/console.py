"""The console's server time per page with the demo data: p95 under 300 ms.

Broker, the three services (demo data) and the console each in their own uvicorn process, as
under `make run`; one signed-in session per role asks each page `ROUNDS` times in a row, and
the time is the whole answer (the console's own work plus its calls to the APIs).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks.procs import peak_rss_mb as proc_peak
from benchmarks.procs import uvicorn
from benchmarks.report import Row
from benchmarks.scenarios import platform_env, token
from shared.db import engine_for, sessionmaker
from shared.kafka import ensure_topics
from tools.registry import SERVICES, all_topics

ROUNDS = 30
TARGET_S = 0.300


async def _load_demo(env: dict[str, str]) -> None:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        await ensure_topics(SERVICES[0].settings(), all_topics())
        for service in SERVICES:
            loader = service.demo()
            if loader is None:
                continue
            settings = service.settings()
            engine = engine_for(settings)
            try:
                await loader(sessionmaker(engine), settings)
            finally:
                await engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _signed_in(base: str, role: str, organisation: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=30)
    page = (await client.get("/aanmelden")).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = await client.post("/aanmelden/dev", data={"role": role, "organisation": organisation,
                                                   "csrf": csrf})
    assert r.status_code == 303, r.text
    return client


async def _time(client: httpx.AsyncClient, path: str) -> list[float]:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        r = await client.get(path)
        times.append(time.perf_counter() - started)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code}")
    return times


async def _scenario(env: dict[str, str], funding: str) -> str | None:
    """A draft scenario of the demo programme, once funding has the indicators."""
    headers = {"Authorization": f"Bearer {token(env, 'programme-officer', 'demo-municipality')}"}
    async with httpx.AsyncClient(base_url=funding, headers=headers, timeout=30) as client:
        programme = (await client.get("/v1/programmes")).json()["items"][0]["id"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            r = await client.post(f"/v1/programmes/{programme}/scenarios",
                                  json={"id": str(uuid.uuid4()), "name": "bench"})
            if r.status_code in (200, 201):
                return str(r.json()["id"])
            await asyncio.sleep(1)
    return None


async def console_pages() -> Row:
    with platform_env() as env, ExitStack() as stack:
        await _load_demo(env)
        urls = {}
        for service in SERVICES:
            port, _ = stack.enter_context(uvicorn(f"services.{service.name}.app:app", env,
                                                  factory=True, ready_path="/readyz"))
            urls[service.name] = f"http://127.0.0.1:{port}"
        console_env = {**env, "DDK_CONSOLE_DEV_SIGNIN_KEY_FILE": str(
            Path(env["DDK_KEY_DIR"]) / "issuer-private.pem"),
            **{f"DDK_CONSOLE_{n.upper()}_URL": u for n, u in urls.items()}}
        port, proc = stack.enter_context(uvicorn("services.console.app:app", console_env,
                                                 factory=True))
        base = f"http://127.0.0.1:{port}"
        scenario = await _scenario(env, urls["funding"])
        coordinator = await _signed_in(base, "coordinator", "demo-corp-a")
        queue = (await coordinator.get("/werkvoorraad")).text
        signal = queue.split('href="/signalen/', 1)[1].split('"', 1)[0]
        pages: list[tuple[str, str, str, str]] = [
            ("coordinator", "demo-corp-a", "queue", "/werkvoorraad"),
            ("coordinator", "demo-corp-a", "signal", f"/signalen/{signal}"),
            ("privacy-officer", "demo-corp-a", "access log", "/privacy/toegangslog"),
            ("programme-officer", "demo-municipality", "programmes", "/programmas"),
            ("analyst", "demo-municipality", "map", "/kaart"),
            ("analyst", "demo-municipality", "ranking", "/ranglijst"),
            ("admin", "demo-municipality", "admin", "/beheer"),
        ]
        if scenario:
            pages.append(("programme-officer", "demo-municipality", "scenario",
                          f"/scenarios/{scenario}"))
        p95: dict[str, float] = {}
        sessions: dict[tuple[str, str], httpx.AsyncClient] = {}
        try:
            for role, org, name, path in pages:
                if (role, org) not in sessions:
                    sessions[(role, org)] = await _signed_in(base, role, org)
                times = await _time(sessions[(role, org)], path)
                p95[name] = statistics.quantiles(times, n=20)[18]
        finally:
            for c in [coordinator, *sessions.values()]:
                await c.aclose()
        slowest = max(p95, key=lambda k: p95[k])
        note = ", ".join(f"{k} {v * 1000:.0f}" for k, v in p95.items())
        if not scenario:
            note += "; no scenario page (funding had no indicators in time)"
        return Row("console pages, p95 per page (ms; demo data)",
                   f"slowest p95 {p95[slowest] * 1000:.0f} ms ({slowest})", None, None,
                   proc_peak(proc.pid), None, "p95 < 300 ms each", p95[slowest] < TARGET_S,
                   f"{ROUNDS} per page: {note}")


def national_map(buurten: int = 14_000) -> bytes:
    """A synthetic national buurt layer: squares on a grid over the Netherlands."""
    side = math.ceil(math.sqrt(buurten))
    step_lon, step_lat = 3.4 / side, 2.9 / side
    features = []
    for i in range(buurten):
        lon, lat = 3.6 + (i % side) * step_lon, 50.8 + (i // side) * step_lat
        ring = [[lon, lat], [lon + step_lon, lat], [lon + step_lon, lat + step_lat],
                [lon, lat + step_lat], [lon, lat]]
        gm, rest = divmod(i, 100)
        features.append({"type": "Feature", "properties": {
            "buurtcode": f"BU{9000 + gm % 1000:04d}{rest:04d}"[:10], "buurtnaam": f"Buurt {i}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def console_national_map(buurten: int = 14_000) -> Row:
    """The map page with every buurt of the country: under 1 s."""
    with platform_env() as env, ExitStack() as stack:
        await _load_demo(env)
        port, _ = stack.enter_context(uvicorn("services.indicators.app:app", env, factory=True,
                                              ready_path="/readyz"))
        indicators = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {token(env, 'admin', 'demo-municipality')}"}
        async with httpx.AsyncClient(base_url=indicators, headers=admin, timeout=600) as c:
            r = await c.post("/v1/area-geometries/import", files={
                "file": ("nl.geojson", national_map(buurten), "application/geo+json")})
            r.raise_for_status()
        console_env = {**env, "DDK_CONSOLE_DEV_SIGNIN_KEY_FILE": str(
            Path(env["DDK_KEY_DIR"]) / "issuer-private.pem"),
            "DDK_CONSOLE_INDICATORS_URL": indicators}
        port, proc = stack.enter_context(uvicorn("services.console.app:app", console_env,
                                                 factory=True))
        analyst = await _signed_in(f"http://127.0.0.1:{port}", "analyst", "demo-municipality")
        try:
            path = "/kaart?niveau=buurt&gemeente=NL00&indicator=vulnerability-index"
            first = await analyst.get(path)
            first.raise_for_status()
            times = []
            for _ in range(5):
                started = time.perf_counter()
                (await analyst.get(path)).raise_for_status()
                times.append(time.perf_counter() - started)
        finally:
            await analyst.aclose()
        worst = max(times)
        return Row(f"console map page, national ({buurten:,} buurten)", f"{worst * 1000:.0f} ms",
                   None, None, proc_peak(proc.pid), None, "< 1 s", worst < 1.0,
                   f"slowest of 5, page {len(first.content) / 2**20:.1f} MiB "
                   "(outlines from the indicators API)")
