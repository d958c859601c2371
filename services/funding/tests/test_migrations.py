"""Migrations of the funding service, on a database as an older revision left it."""

from __future__ import annotations

import asyncio
import uuid

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
