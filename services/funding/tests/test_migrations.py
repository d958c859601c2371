"""Migrations of the funding service, on a database as an older revision left it."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from shared.db import create_engine
from tools.migrate import downgrade, upgrade

PROGRAMME = uuid.uuid4()
SCENARIO = uuid.uuid4()


async def _execute(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [tuple(r) for r in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def run(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    return asyncio.run(_execute(url, statement, **params))


def _seed(url: str) -> None:
    """A programme and an approved scenario as fun0002 stored them."""
    run(url, "INSERT INTO programmes (id, name, currency, first_year, last_year, pools_json, "
        "created_by, created_at) VALUES (:id, 'Oud', 'EUR', 2027, 2030, '[]', 'fiona', "
        "'2026-11-01 10:00:00.000000')", id=str(PROGRAMME))
    run(url, "INSERT INTO scenarios (id, programme_id, name, status, version, revision, "
        "overrides_json, stale, drafted_by, created_at, approved_by, approved_at) VALUES "
        "(:id, :p, 'basis', 'approved', 1, 2, '[]', false, 'olga', "
        "'2026-11-02 10:00:00.000000', 'anna', '2026-11-03 10:00:00.000000')",
        id=str(SCENARIO), p=str(PROGRAMME))


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_fun0003_gives_programmes_an_owner_and_a_pools_editor(database_url, monkeypatch):
    monkeypatch.setenv("DDK_FUNDING_PROGRAMME_OWNER_ORGANISATION", "gemeente-test")
    url = database_url("funding")
    upgrade("funding", url, "fun0002")
    _seed(url)

    upgrade("funding", url, "fun0003")

    assert run(url, "SELECT organisation, pools_edited_by FROM programmes") == [
        ("gemeente-test", "fiona")]
    assert run(url, "SELECT approval_json, approved_by FROM scenarios") == [(None, "anna")]
    with pytest.raises(IntegrityError, match=r"(?i)null"):  # the owner is required from now on
        run(url, "INSERT INTO programmes (id, name, currency, first_year, last_year, "
            "pools_json, created_by, created_at, organisation, pools_edited_by) VALUES "
            "(:id, 'Nieuw', 'EUR', 2027, 2030, '[]', 'x', '2026-12-01 10:00:00.000000', "
            "NULL, 'x')", id=str(uuid.uuid4()))

    downgrade("funding", url, "fun0002")
    assert run(url, "SELECT id, name, created_by FROM programmes") == [
        (str(PROGRAMME), "Oud", "fiona")]
    assert run(url, "SELECT status, approved_by FROM scenarios") == [("approved", "anna")]
    with pytest.raises(DBAPIError, match=r"(?i)organisation"):
        run(url, "SELECT organisation FROM programmes")
    upgrade("funding", url, "head")
    assert run(url, "SELECT organisation FROM programmes") == [("gemeente-test",)]


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_fun0003_on_an_empty_database_needs_no_owner(database_url):
    url = database_url("funding")
    upgrade("funding", url, "head")
    downgrade("funding", url, "fun0002")
    upgrade("funding", url, "head")
    assert run(url, "SELECT count(*) FROM programmes") == [(0,)]


LINE = {"pool": "focus", "theme": "safety", "year": 2028, "areaCode": "BU00010101",
        "areaName": "Buurt", "level": "buurt", "base": "10", "need": "1", "needEffective": "1",
        "lambda": "1", "unroundedCents": "5", "cents": 5, "euros": "0.05",
        "bindingConstraint": "none", "remainderCent": False, "share": "1",
        "eurosPerInhabitant": None, "indicatorMethodVersion": "vi-1.0.0",
        "indicatorPeriod": "rolling-12m:2026-11"}


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_fun0004_moves_lines_into_rows_and_keeps_indicators_per_period(database_url):
    url = database_url("funding")
    upgrade("funding", url, "fun0002")
    _seed(url)
    upgrade("funding", url, "fun0003")
    other = {**LINE, "theme": "education", "cents": 7}
    run(url, "INSERT INTO scenario_versions (scenario_id, version, reason, total_cents, "
        "area_count, method_versions, lines_json, computed_at) VALUES (:id, 1, 'created', 12, "
        "1, 'vi-1.0.0', :lines, '2026-11-02 10:00:00.000000')", id=str(SCENARIO),
        lines=orjson.dumps([LINE, other]).decode())
    run(url, "INSERT INTO area_indicator_inputs (area_code, level, period, method_version, "
        "values_json, composite_score, computed_at, received_at) VALUES ('BU00010101', "
        "'buurt', 'rolling-12m:2026-11', 'vi-1.0.0', '[]', '1.5', "
        "'2026-11-02 10:00:00.000000', '2026-11-02 10:00:00.000000')")

    upgrade("funding", url, "fun0004")

    rows = run(url, "SELECT theme, year, area_code, cents, line_json FROM scenario_lines "
               "ORDER BY theme")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("education", 2028, "BU00010101", 7), ("safety", 2028, "BU00010101", 5)]
    assert orjson.loads(str(rows[1][4])) == LINE
    assert run(url, "SELECT area_code, period, composite_score FROM area_indicator_periods") == [
        ("BU00010101", "rolling-12m:2026-11", "1.5")]
    assert run(url, "SELECT indicator_periods_json FROM programmes") == [("[]",)]

    downgrade("funding", url, "fun0003")
    [(lines,)] = run(url, "SELECT lines_json FROM scenario_versions")
    assert orjson.loads(str(lines)) == [other, LINE]
    upgrade("funding", url, "head")
    assert run(url, "SELECT count(*) FROM scenario_lines") == [(2,)]
