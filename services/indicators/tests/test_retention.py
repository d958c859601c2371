"""The pseudonym retention clock: settled periods keep their counts, the pseudonyms go."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.indicators.computation import repository
from services.indicators.computation.periods import Period, month_index, month_label
from services.indicators.models import SignalFact
from services.indicators.stream import retention
from services.indicators.stream import service as stream
from services.indicators.tests.helpers import record_all, recorded, value
from shared.contracts.signals import SignalErased, SignalEscalated, SignalRecorded
from shared.db import create_engine, sessionmaker
from tests.helpers import eventually

GRACE = timedelta(days=760)
BUURTEN = ("BU03440101", "BU03440102", "BU03440201")
CATEGORIES = ("rent-arrears", "nuisance", "loneliness")
FIRST, LAST = "2021-01", "2023-06"  # the months signals are observed in
PERIODS = [Period(kind, month_label(i)) for kind in ("month", "rolling-12m")
           for i in range(month_index(FIRST) - 1, month_index(LAST) + 25)]


def _history(seed: int = 20261203) -> list[SignalRecorded]:
    """400 signals of 60 households over 30 months: repeats, several categories, moves."""
    rng = random.Random(seed)
    months = [month_label(i) for i in range(month_index(FIRST), month_index(LAST) + 1)]
    signals = []
    for _ in range(400):
        household = f"hh-{rng.randrange(60)}"
        area = BUURTEN[int(household[3:]) % 2] if rng.random() < 0.9 else BUURTEN[2]
        signals.append(recorded(area, household, category=rng.choice(CATEGORIES),
                                observed=f"{rng.choice(months)}-{rng.randint(1, 28):02d}",
                                severity=rng.choice(("low", "medium", "acute"))))
    return signals


def _settled_at(last_month: str) -> datetime:
    """A moment at which periods up to `last_month` are settled and the next ones are not."""
    i = month_index(last_month) + 1
    return datetime(i // 12, i % 12 + 1, 1, tzinfo=UTC) + GRACE


async def _all_counts(runtime):
    """Every period's counts; the cell keys are left out, since forgetting a pseudonym also
    replaces its facts' record keys (test_record_keys_no_longer_link_a_forgotten_household)."""
    async with runtime.sessions() as session:
        return {str(p): {area: dataclasses.replace(c, keys={}, by_category_keys={})
                         for area, c in (await repository.signal_counts(session, p)).items()}
                for p in PERIODS}


async def _settle(runtime, last_month: str) -> list[str]:
    return await retention.settle_due(runtime.sessions, GRACE, _settled_at(last_month))


async def _pseudonyms_by_month(runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(SignalFact.month, func.count(SignalFact.household_stats_pseudonym))
            .group_by(SignalFact.month))
        return {str(m): int(n) for m, n in rows}


async def test_settling_keeps_every_periods_counts_and_forgets_the_pseudonyms(indicators):
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, _history())
        async with svc.runtime.sessions() as session, session.begin():
            signal = (await session.scalars(select(SignalFact).limit(1))).one()
            await stream.escalate_signal(session, SignalEscalated(
                signal_id=signal.signal_id, area_code=signal.area_code,
                category=signal.category, severity="acute",
                escalated_at=datetime(2026, 1, 1, tzinfo=UTC)))
        before = await _all_counts(svc.runtime)
        assert sum(c.households for c in before["rolling-12m:2022-06"].values()) > 40

        # Part of the history settled: periods on both sides of the line, and across it.
        assert await _settle(svc.runtime, "2022-03") == [
            month_label(i) for i in range(month_index(FIRST), month_index("2022-03") + 1)]
        assert await _all_counts(svc.runtime) == before
        kept = await _pseudonyms_by_month(svc.runtime)
        assert {m for m, n in kept.items() if n == 0} == {
            month_label(i) for i in range(month_index(FIRST), month_index("2021-04") + 1)}

        # Then all of it, in a later round.
        await _settle(svc.runtime, "2025-06")
        assert await _all_counts(svc.runtime) == before
        assert set((await _pseudonyms_by_month(svc.runtime)).values()) == {0}
        assert await _settle(svc.runtime, "2025-06") == []  # nothing due twice


async def test_record_keys_no_longer_link_a_forgotten_household(indicators):
    history = _history(seed=3)
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, history)
        await _settle(svc.runtime, "2025-06")
        async with svc.runtime.sessions() as session:
            keys = dict((await session.execute(
                select(SignalFact.signal_id, SignalFact.record_key))).all())
    by_household: dict[str, set[int]] = {}
    facts: dict[str, int] = {}
    for s in history:
        by_household.setdefault(s.household_stats_pseudonym, set()).add(keys[s.signal_id])
        facts[s.household_stats_pseudonym] = facts.get(s.household_stats_pseudonym, 0) + 1
    several = [h for h, n in facts.items() if n >= 2]
    assert several
    # Each fact got a key of its own: none shared by a household's facts any more.
    assert all(len(by_household[h]) == facts[h] for h in several)


async def test_an_erased_household_leaves_settled_periods_as_if_never_counted(
        indicators, database_url):
    history = _history(seed=7)
    erased = {s.signal_id for s in history if s.household_stats_pseudonym in ("hh-3", "hh-4")}
    assert len(erased) >= 6
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, history)
        await _settle(svc.runtime, "2025-06")
        for signal in history:
            if signal.signal_id in erased:
                async with svc.runtime.sessions() as session, session.begin():
                    await stream.erase_signal(session, SignalErased(
                        signal_id=signal.signal_id, area_code=signal.area_code,
                        erased_at=datetime(2026, 1, 1, tzinfo=UTC)))
        got = await _all_counts(svc.runtime)
    async with indicators(pseudonym_retention_interval_s=0,
                          database_url=database_url("indicators-without")) as svc:
        await record_all(svc.runtime, [s for s in history if s.signal_id not in erased])
        assert got == await _all_counts(svc.runtime)


async def test_a_signal_arriving_after_its_periods_settled_counts_as_a_signal_only(indicators):
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, [recorded(BUURTEN[0], "hh-1", observed="2021-05-03")])
        await _settle(svc.runtime, "2022-06")
        await record_all(svc.runtime, [recorded(BUURTEN[0], "hh-2", observed="2021-05-09",
                                                signal_id=uuid.uuid4())])
        counts = (await _all_counts(svc.runtime))["month:2021-05"][BUURTEN[0]]
        assert (counts.signals, counts.households) == (2, 1)
        await _settle(svc.runtime, "2022-06")  # the next round forgets its pseudonym too
        assert set((await _pseudonyms_by_month(svc.runtime)).values()) == {0}


@pytest.mark.parametrize("worker", ["inline", "process"])
async def test_the_app_forgets_pseudonyms_no_open_period_needs(indicators, auth, database_url,
                                                               monkeypatch, worker):
    """The running service's clock: with the default grace, a fact of three years ago keeps
    no pseudonym, one of last year does; its indicators read the same. The clock runs where
    the snapshot worker runs: with a worker process, never on the API's event loop (settling
    a month updates a year of facts, seconds of work nationally)."""
    on_the_api_loop: list[str] = []
    settle_due = retention.settle_due

    async def settling_here(*args, **kwargs):
        on_the_api_loop.append("settle_due")
        return await settle_due(*args, **kwargs)

    monkeypatch.setattr(retention, "settle_due", settling_here)
    now = datetime.now(UTC)
    old = (now - timedelta(days=3 * 365 + 60)).strftime("%Y-%m-%d")
    recent = (now - timedelta(days=300)).strftime("%Y-%m-%d")
    signals = [recorded(BUURTEN[0], f"hh-{i}", observed=day)
               for i in range(4) for day in (old, recent)]
    admin, url = auth("admin"), database_url("indicators-clock")

    async def read(svc):
        r = await svc.client.get(f"/v1/areas/{BUURTEN[0]}/indicators",
                                 params={"period": f"month:{old[:7]}"}, headers=admin)
        assert r.status_code == 200, r.text
        return value(r.json(), "signalled-households")["value"]

    async with indicators(database_url=url, pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, signals)
        assert await read(svc) == 4
    async with indicators(database_url=url, pseudonym_retention_interval_s=0.05,
                          snapshot_worker=worker) as svc:

        async def forgotten():
            kept = await _pseudonyms_by_month(svc.runtime)
            return kept if kept[old[:7]] == 0 else None

        kept = await eventually(forgotten, timeout_s=60)
        assert kept[recent[:7]] == 4
        assert await read(svc) == 4
    # Settled meanwhile by this process's loop (inline) or by the worker's process only.
    assert bool(on_the_api_loop) == (worker == "inline"), on_the_api_loop


# Two engines on one SQLite file in one process deadlock on its inline connection; SQLite
# runs one indicators process anyway. Replicas share a PostgreSQL database.
@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
async def test_two_replicas_settling_at_once_count_each_household_once(indicators):
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, _history(seed=11))
        before = await _all_counts(svc.runtime)
        other = create_engine(svc.runtime.settings.sqlalchemy_url())
        try:
            # As the clock does, a replica that fails simply tries again at its next tick.
            await asyncio.gather(*(
                retention.settle_due(sessions, GRACE, _settled_at("2025-06"))
                for sessions in (svc.runtime.sessions, sessionmaker(other))),
                return_exceptions=True)
            await retention.settle_due(svc.runtime.sessions, GRACE, _settled_at("2025-06"))
        finally:
            await other.dispose()
        async with svc.runtime.sessions() as session:
            assert await retention.settled_through(session) == "2025-06"
        assert await _all_counts(svc.runtime) == before
        assert set((await _pseudonyms_by_month(svc.runtime)).values()) == {0}


async def test_a_replica_late_for_a_settled_month_changes_nothing(indicators):
    """A replica that decided to settle a month another one has settled since (and freed
    pseudonyms of) must not mark representatives among the facts that are left."""
    async with indicators(pseudonym_retention_interval_s=0) as svc:
        await record_all(svc.runtime, _history(seed=12))
        before = await _all_counts(svc.runtime)
        await _settle(svc.runtime, "2022-06")
        try:
            late = await retention.settle(svc.runtime.sessions, "2022-06")
        except IntegrityError:  # the clock logs it and carries on: what it wrote stays
            late = None
        assert await _all_counts(svc.runtime) == before
        assert late is False


async def test_the_app_runs_the_clock(indicators):
    """The clock ticks at start and then every interval; a notify() brings the tick forward."""
    async with indicators(pseudonym_retention_interval_s=3600) as svc:
        clock = svc.runtime.retention
        assert clock is not None and clock.running
        await record_all(svc.runtime, [recorded(BUURTEN[0], "hh-1", observed="2021-03-05")])
        clock.notify()  # rather than waiting the hour

        async def forgotten():
            async with svc.runtime.sessions() as session:
                return await session.scalar(
                    select(func.count(SignalFact.household_stats_pseudonym))) == 0 or None

        await eventually(forgotten)
        async with svc.runtime.sessions() as session:
            assert await retention.settled_through(session) >= "2021-03"
