"""The broker loses everything while every consumer runs, and no read model is the worse for it.

Two runs of the same story over signals -> indicators -> funding, each on a broker and
databases of its own: a clean one, and one whose broker is wiped (stopped and started empty,
as the embedded broker's memory engine does on a restart; a rebuilt cluster does the same)
halfway, with relays, consumers and publishers running. The relays re-publish from their
outboxes what the broker lost, the consumers find their topics and offsets gone, the inboxes
absorb what was applied before. Afterwards every read model (every table a consumer fills, in
indicators and in funding) must equal the clean run's, row for row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from services.indicators.tests.conftest import TEST_CELL_KEY_SECRET
from services.signals.tests.conftest import TEST_KEYS
from tests.apps import runtime_of
from tests.helpers import eventually
from tools.broker import EmbeddedBroker, free_port

AREAS = ["BU05990101", "BU05990102", "BU05990103"]
#: Tables a consumer fills, per service (inbox and outbox are bookkeeping, not read models).
READ_MODELS = {
    "indicators": ["signal_facts", "signal_tombstones", "acute_escalations",
                   "published_indicators"],
    "funding": ["areas", "programme_areas", "area_indicator_inputs"],
}
#: When a row was written differs between two runs; what it says must not.
CLOCK_COLUMNS = ("_at",)

Snapshot = dict[str, list[tuple[Any, ...]]]


def _signal(area: str, unit: int, category: str = "loneliness", **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=unit * 1000 + AREAS.index(area))), "category": category,
            "severity": "low", "observedAt": "2026-11-01T09:30:00Z", "areaCode": area,
            "unitRef": f"u-{unit}", **extra}


@contextlib.asynccontextmanager
async def platform(start_service: Callable[..., Any], database_url: Callable[[str], str],
                   broker: EmbeddedBroker, run: str) -> AsyncIterator[dict[str, Any]]:
    """The three services on `broker` and databases of their own, everything running."""
    # Three services share one process and the broker restarts under them: with the suite's
    # short 2 s session a member whose loop stalls through a recompute is dropped and the
    # groups rebalance over and over. A production-like session lets them settle.
    common = {"kafka_bootstrap_servers": broker.bootstrap_servers,
              "kafka_session_timeout_ms": 6000, "kafka_heartbeat_interval_ms": 500}
    async with (
        start_service("signals", database_url=database_url(f"signals_{run}"), **common,
                      **TEST_KEYS) as signals,
        start_service("indicators", database_url=database_url(f"indicators_{run}"), **common,
                      cell_key_secret=TEST_CELL_KEY_SECRET, indicator_debounce_s=0.2) as indicators,
        start_service("funding", database_url=database_url(f"funding_{run}"), **common,
                      ) as funding,
    ):
        yield {"signals": signals, "indicators": indicators, "funding": funding}


async def _rows(client: Any, table: str) -> list[tuple[Any, ...]]:
    rt = runtime_of(client)
    model = next(m for m in rt.outbox.registry.mappers if m.local_table.name == table).class_
    columns = [c for c in model.__table__.columns if not c.name.endswith(CLOCK_COLUMNS)]
    async with rt.sessions() as session:
        rows = (await session.execute(select(*columns))).all()
    return sorted(tuple(str(v) for v in row) for row in rows)


async def read_models(apps: dict[str, Any]) -> Snapshot:
    return {f"{service}.{table}": await _rows(apps[service], table)
            for service, tables in READ_MODELS.items() for table in tables}


async def settled(apps: dict[str, Any], ready: Callable[[Snapshot], bool]) -> Snapshot:
    """The read models once they hold what `ready` waits for and nothing moves any more:
    outboxes empty, no area waiting for its publication, and the same a while later."""
    async def quiet() -> bool:
        for client in apps.values():
            r = await client.get("/readyz")
            if r.json()["checks"]["outbox"]["backlog"]:
                return False
        return not await _rows(apps["indicators"], "dirty_areas")

    async def still() -> Snapshot | None:
        if not await quiet():
            return None
        current = await read_models(apps)
        if not ready(current):
            return None
        await asyncio.sleep(3.0)  # a debounced publication may still be on its way
        return current if await quiet() and await read_models(apps) == current else None

    return await eventually(still, timeout_s=120, interval_s=0.5)


async def story(apps: dict[str, Any], auth: Callable[..., dict[str, str]],
                halfway: Callable[[], Awaitable[None]]) -> Snapshot:
    admin = auth("admin", "demo-municipality")
    field_worker = auth("field-worker")
    signals, indicators = apps["signals"], apps["indicators"]

    async def record(*bodies: dict[str, Any]) -> None:
        for body in bodies:
            r = await signals.post("/v1/signals", json=body, headers=field_worker)
            assert r.status_code == 201, r.text

    for code, name in (("GM0599", "Rotterdam"), ("WK059901", "Wijk 01")):
        r = await indicators.put(f"/v1/areas/{code}", json={"name": name}, headers=admin)
        assert r.status_code == 200, r.text
    for code in AREAS[:2]:
        r = await indicators.put(f"/v1/areas/{code}", json={
            "name": f"Buurt {code[-2:]}", "statistics": [{"year": 2025, "households": 400}]},
            headers=admin)
        assert r.status_code == 200, r.text
    await record(*(_signal(area, unit) for unit in range(1, 13) for area in AREAS[:2]))
    await settled(apps, lambda models: len(models["indicators.signal_facts"]) == 24
                  and len(models["funding.areas"]) == 4
                  and bool(models["funding.area_indicator_inputs"]))

    await halfway()

    r = await indicators.put(f"/v1/areas/{AREAS[2]}", json={"name": "Buurt 03"},
                             headers=admin)
    assert r.status_code == 200, r.text
    await record(*(_signal(area, unit, "nuisance", subcategory="noise")
                   for unit in range(13, 20) for area in AREAS))
    erased = await signals.post("/v1/data-subject-erasures", json={"unitRef": "u-1"},
                                headers=auth("privacy-officer"))
    assert erased.status_code == 200 and erased.json()["erased"] == 2, erased.text
    return await settled(apps, lambda models: len(models["indicators.signal_facts"]) == 24 + 21 - 2
                         and len(models["indicators.signal_tombstones"]) == 2
                         and {row[0] for row in models["funding.areas"]} >= set(AREAS))


@pytest.mark.xfail(
    os.environ.get("DDK_TEST_DATABASE") == "postgresql", strict=False,
    reason="open: on PostgreSQL about 1 run in 5 ends with other published indicators (and "
           "funding inputs) than the clean run, facts and tombstones equal; under study")
async def test_a_broker_wiped_under_running_consumers_leaves_every_read_model_as_a_clean_run(
        start_service, database_url, auth):
    async def nothing() -> None:
        pass

    clean_broker = EmbeddedBroker(free_port()).start()
    try:
        async with platform(start_service, database_url, clean_broker, "clean") as apps:
            clean = await story(apps, auth, halfway=nothing)
    finally:
        clean_broker.stop()

    broker = EmbeddedBroker(free_port()).start()
    try:
        async with platform(start_service, database_url, broker, "wiped") as apps:
            consumers = [c for app in apps.values() for c in runtime_of(app).consumers]

            async def wipe() -> None:
                assert consumers and all(c.running for c in consumers)
                broker.stop()
                broker.start()  # empty: topics, records and committed offsets are gone
                assert all(c.running for c in consumers)

            wiped = await story(apps, auth, halfway=wipe)
    finally:
        broker.stop()

    assert wiped.keys() == clean.keys()
    differ = {table: {"clean": clean[table], "wiped": wiped[table]}
              for table in clean if wiped[table] != clean[table]}
    assert not differ


pytestmark = pytest.mark.timeout(300)
