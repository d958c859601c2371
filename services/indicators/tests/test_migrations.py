"""Migrations of the indicators service, on a database as an older revision left it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import TextClause, text

from shared.db import create_engine
from tools.migrate import downgrade, upgrade

INSERT = text(
    "INSERT INTO signal_facts (signal_id, area_code, category, severity, acute, month, "
    "household_stats_pseudonym, observed_at, recorded_at) VALUES (:id, 'BU03440101', "
    "'nuisance', 'low', false, :month, 'hh-1', '2021-05-03 10:00:00+00', "
    "'2021-05-03 10:00:00+00')")


async def _run(url: str, *statements: tuple[TextClause, dict[str, str]]
               ) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement, params in statements:
                await conn.execute(statement, params)
            rows = await conn.execute(text(
                "SELECT signal_id, household_stats_pseudonym FROM signal_facts "
                "ORDER BY signal_id"))
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_ind0003_keeps_the_facts_and_downgrade_drops_only_those_without_a_pseudonym(
        database_url):
    url = database_url("indicators")
    upgrade("indicators", url, "ind0002")
    asyncio.run(_run(url, (INSERT, {"id": "a", "month": "2021-05"}),
                     (INSERT, {"id": "b", "month": "2023-05"})))

    upgrade("indicators", url, "ind0003")
    rows = asyncio.run(_run(url, (text(
        "UPDATE signal_facts SET household_stats_pseudonym = NULL, household_windows = 4097 "
        "WHERE signal_id = 'a'"), {}), (text(
        "INSERT INTO settled_periods (last_month, settled_at) VALUES "
        "('2022-04', '2026-12-03 10:00:00+00')"), {})))
    assert rows == [("a", None), ("b", "hh-1")]

    downgrade("indicators", url, "ind0002")
    assert asyncio.run(_run(url)) == [("b", "hh-1")]
    upgrade("indicators", url)
