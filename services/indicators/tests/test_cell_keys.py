"""The cell-key method in the service: record keys on facts, who sees which figures, raw reads."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from services.indicators.cellkey import MAX_NOISE, RecordKeys, perturb
from services.indicators.computation.periods import GRACE_DAYS, latest_final_period
from services.indicators.models import SignalFact
from services.indicators.tests.conftest import TEST_CELL_KEY_SECRET
from services.indicators.tests.helpers import households, record_all, recorded, value
from shared.db import create_engine, utcnow
from tools.migrate import downgrade, upgrade

KEYS = RecordKeys(base64.urlsafe_b64decode(TEST_CELL_KEY_SECRET))


async def _facts(svc) -> list[SignalFact]:
    async with svc.runtime.sessions() as session:
        return list(await session.scalars(select(SignalFact)))


async def test_a_fact_carries_its_households_record_key_and_organisation(indicators):
    async with indicators() as svc:
        await record_all(svc.runtime, [recorded("BU03440101", "hh-7")])
        [fact] = await _facts(svc)
        assert fact.record_key == KEYS.of("hh-7")
        assert fact.organisation == "demo-corp-a"


async def _insert_old_fact(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO signal_facts (signal_id, area_code, category, severity, acute, "
                "month, household_stats_pseudonym, observed_at, recorded_at) VALUES ("
                "'0190a000-0000-7000-8000-000000000001', 'BU03440101', 'nuisance', 'low', "
                ":no, '2026-10', 'hh-old', '2026-10-01 10:00:00.000000', "
                "'2026-10-01 10:00:00.000000')"), {"no": False})
    finally:
        await engine.dispose()


async def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("signal_facts")})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_ind0004_adds_the_columns_the_service_fills_them_and_downgrade_removes_them(
        database_url, indicators):
    url = database_url("indicators")
    upgrade("indicators", url, "ind0002")
    asyncio.run(_insert_old_fact(url))

    async def start_and_read() -> list[SignalFact]:
        async with indicators(database_url=url) as svc:  # upgrades to head, then starts
            return await _facts(svc)

    [fact] = asyncio.run(start_and_read())
    assert fact.record_key == KEYS.of("hh-old")  # filled in at start
    assert fact.organisation is None

    downgrade("indicators", url, "ind0002")
    assert {"record_key", "organisation"}.isdisjoint(asyncio.run(_columns(url)))
    upgrade("indicators", url)
    assert {"record_key", "organisation"} <= asyncio.run(_columns(url))


async def test_the_same_households_give_the_same_noise_whatever_reaches_them(indicators, auth):
    """A wijk with one buurt: the same households, the same cell key, the same value."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        for code in ("GM0344", "WK034401", "BU03440101"):
            r = await svc.client.put(f"/v1/areas/{code}", json={"name": code}, headers=admin)
            assert r.status_code == 200, r.text
        await record_all(svc.runtime, households("BU03440101", 23, observed="2026-10-02"))
        seen = set()
        for code in ("BU03440101", "WK034401", "GM0344", "NL00"):
            for period in ("month:2026-10", "rolling-12m:2026-10", "rolling-12m:2026-11"):
                r = await svc.client.get(f"/v1/areas/{code}/indicators",
                                         params={"period": period}, headers=analyst)
                seen.add(value(r.json(), "signalled-households")["value"])
        expected = perturb(23, sum(KEYS.of(f"hh-BU03440101-{i}") for i in range(23)))
        assert seen == {expected}


async def test_those_who_record_signals_see_final_periods_and_their_own_live_counts(
        indicators, auth):
    admin = auth("admin")
    worker, analyst = auth("field-worker", "demo-corp-b"), auth("analyst", "demo-municipality")
    now = utcnow()
    this_month = f"rolling-12m:{now:%Y-%m}"
    async with indicators() as svc:
        for code in ("GM0344", "WK034401", "BU03440101"):
            r = await svc.client.put(f"/v1/areas/{code}", json={"name": code}, headers=admin)
            assert r.status_code == 200, r.text
        theirs = households("BU03440101", 9, observed=f"{now - timedelta(days=1):%Y-%m-%d}")
        mine = [s.model_copy(update={"organisation": "demo-corp-b"})
                for s in households("BU03440101", 6, observed=f"{now:%Y-%m-%d}")]
        await record_all(svc.runtime, theirs + mine)

        r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                 params={"period": this_month}, headers=worker)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await svc.client.get("/v1/areas/BU03440101/indicators", headers=worker)
        assert r.status_code == 200, r.text
        assert r.json()["period"] == str(latest_final_period(now, GRACE_DAYS))
        assert r.json()["dataUntil"] is not None
        r = await svc.client.get("/v1/indicators", headers=worker, params={
            "level": "buurt", "indicator": "signals", "period": this_month})
        assert r.status_code == 403
        r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                 params={"period": this_month}, headers=analyst)
        assert r.status_code == 200 and r.json()["dataUntil"] is None  # live

        own = (await svc.client.get("/v1/areas/BU03440101/signal-counts",
                                    headers=worker)).json()
        assert own["organisation"] == "demo-corp-b"
        assert abs(own["signals"] - 6) <= MAX_NOISE  # their own 6 only, protected
        every = (await svc.client.get("/v1/areas/BU03440101/signal-counts",
                                      headers=analyst)).json()
        assert every["organisation"] is None and abs(every["signals"] - 15) <= MAX_NOISE


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_every_raw_read_is_logged_and_counted_without_the_person(indicators, auth):
    from services.indicators.reporting.audit import RAW_READS

    admin = auth("admin", "demo-municipality", sub="admin-7")
    audit_log, kept = logging.getLogger("services.indicators.audit"), _Kept()
    audit_log.addHandler(kept)
    audit_log.setLevel(logging.INFO)
    try:
        async with indicators() as svc:
            await record_all(svc.runtime, households("BU03440101", 3, observed="2026-10-02"))
            before = RAW_READS.labels("signal-counts")._value.get()
            r = await svc.client.get("/v1/areas/BU03440101/signal-counts", headers=admin)
            assert r.json()["signals"] == 3 and r.json()["raw"] is True
            r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                     params={"period": "month:2026-10"}, headers=admin)
            assert r.json()["raw"] is True
            assert RAW_READS.labels("signal-counts")._value.get() == before + 1
    finally:
        audit_log.removeHandler(kept)
    lines = [rec for rec in kept.records if getattr(rec, "audit", None) == "raw-read"]
    assert [(rec.endpoint, rec.area, rec.organisation) for rec in lines] == [
        ("signal-counts", "BU03440101", "demo-municipality"),
        ("area-indicators", "BU03440101", "demo-municipality")]
    assert lines[1].period == "month:2026-10"
    assert all("admin-7" not in str(rec.__dict__) for rec in lines)
