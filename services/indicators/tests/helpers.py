"""Building blocks of the indicators tests: signal events and a small register."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from services.indicators.computation.periods import Period
from services.indicators.computation.service import public_cutoffs
from services.indicators.models import IndicatorSnapshot, Outbox
from services.indicators.snapshots import store
from services.indicators.snapshots.state import PeriodState
from services.indicators.snapshots.worker import SnapshotWorker
from services.indicators.stream import service as stream
from shared.contracts.signals import SignalRecorded
from shared.db import sessionmaker, utcnow
from shared.events import EventType
from shared.http_cache import strong_etag


def recorded(area: str, household: str, category: str = "rent-arrears",
             observed: str = "2026-10-15", severity: str = "low",
             signal_id: uuid.UUID | None = None) -> SignalRecorded:
    observed_at = datetime.fromisoformat(observed).replace(hour=10, tzinfo=UTC)
    return SignalRecorded(
        signal_id=signal_id or uuid.uuid4(), category=category, severity=severity,
        area_code=area, observed_at=observed_at, recorded_at=observed_at,
        organisation="demo-corp-a", household_stats_pseudonym=household,
    )


async def record_each(runtime: Any, signals: list[SignalRecorded]) -> None:
    """Apply signals as the consumer does, one transaction each."""
    for signal in signals:
        async with runtime.sessions() as session, session.begin():
            await stream.record_signal(session, signal)


async def record_all(runtime: Any, signals: list[SignalRecorded]) -> None:
    """`record_each`, then bring the stored snapshots up to date as the worker does."""
    await record_each(runtime, signals)
    await settle(runtime.snapshots)


async def settle(worker: SnapshotWorker, rounds: int = 500) -> None:
    """Run rounds until one finds nothing to do (what tests call before they read)."""
    for _ in range(rounds):
        if not await worker.round():
            return
    raise RuntimeError(f"snapshots still changing after {rounds} rounds")


async def settle_through_refusals(worker: SnapshotWorker, tries: int = 10) -> None:
    """`settle`, again after each round the database refused (a test's injected failure),
    as the worker's loop goes on after a failed round."""
    for _ in range(tries):
        try:
            await settle(worker)
            return
        except OperationalError:
            continue
    raise AssertionError(f"the rounds failed {tries} times")


async def small_register(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """GM0344 > WK034401 (BU03440101-03) and WK034402 (BU03440201); 100 corp. dwellings each."""
    stats = [{"year": 2026, "inhabitants": 1000, "households": 500, "dwellings": 400,
              "corporationDwellings": 100, "lowIncomeHouseholdsPct": 10.0}]
    puts = [("GM0344", "Utrecht"), ("WK034401", "Wijk 1"), ("WK034402", "Wijk 2")]
    puts += [(code, code) for code in ("BU03440101", "BU03440102", "BU03440103", "BU03440201")]
    for code, name in puts:
        body = {"name": name, "statistics": stats if code.startswith("BU") else []}
        r = await client.put(f"/v1/areas/{code}", json=body, headers=admin)
        assert r.status_code == 200, r.text
    r = await client.put("/v1/programme-areas/PA-test", headers=admin, json={
        "name": "Test", "gemeenteCode": "GM0344", "buurtCodes": ["BU03440101", "BU03440201"]})
    assert r.status_code == 200, r.text


def households(area: str, n: int, **kw: Any) -> list[SignalRecorded]:
    return [recorded(area, f"hh-{area}-{i}", **kw) for i in range(n)]


def value(body: dict[str, Any], indicator: str) -> dict[str, Any]:
    return next(v for v in body["values"] if v["indicatorId"] == indicator)


async def outbox_events(svc: Any, event_type: EventType[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key, data) of every event of a type in the service's outbox, in the order written."""
    async with svc.runtime.sessions() as session:
        rows = (await session.scalars(
            select(Outbox).where(Outbox.type == event_type.type).order_by(Outbox.id))).all()
    return [(row.key, orjson.loads(row.data)) for row in rows]


async def area_answer(client: httpx.AsyncClient, code: str, headers: dict[str, str]
                      ) -> dict[str, Any]:
    """An area's indicators as `headers`' caller reads them; their ETag, kept with the
    answer's bytes, is checked to be the hash of the bytes sent."""
    r = await client.get(f"/v1/areas/{code}/indicators", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == kept_etag(r), code
    return r.json()


def kept_etag(r: httpx.Response) -> str:
    """The ETag a kept answer must carry: the hash of its bytes (as httpx decoded them),
    weak where they came gzipped (shared.compression)."""
    etag = strong_etag(r.content).decode()
    return "W/" + etag if r.headers.get("Content-Encoding") == "gzip" else etag


async def differing_from_facts(svc: Any, period: Period) -> list[str]:
    """The areas whose stored row, or the index, is not what a build from the facts makes."""
    now = utcnow()
    async with svc.runtime.sessions() as session:
        fresh = await PeriodState.build(session, period, public_cutoffs(period, now))
        stored = await store.digests(session, str(period), fresh.codes())
        snapshot = await session.get(IndicatorSnapshot, str(period))
    assert snapshot is not None
    differing = [code for code in fresh.codes() if stored.get(code) != fresh.row(code).digest]
    if orjson.loads(snapshot.vulnerability_index) != orjson.loads(fresh.index_json):
        differing.append("index")
    return differing


def own_worker(svc: Any, **kwargs: Any) -> SnapshotWorker:
    """A worker of the test's own on the service's database (its protections an hour
    apart), as the worker's process makes one."""
    kwargs.setdefault("protect_interval_s", 3600.0)
    kwargs.setdefault("index_interval_s", 0.0)
    return SnapshotWorker(svc.runtime.sessions, sessionmaker(svc.runtime.read_engine),
                          source="test", **kwargs)
