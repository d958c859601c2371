"""Group commit of new signals: concurrent requests share a commit, and each signal is
stored once, whole, or not at all."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.signals.intake.new_signal import NewSignal, new_signal
from services.signals.intake.schemas import parse_signal
from services.signals.intake.writer import GroupWriter
from services.signals.models import IdempotencyKey, Outbox, Signal, StatusChange
from services.signals.tests.conftest import db, signal_body
from shared.auth import Principal, Role
from tests.apps import runtime_of


def _groups() -> tuple[float, float]:
    """(commits, signals) so far, from the writer's histogram."""
    count = REGISTRY.get_sample_value("signal_intake_group_size_count") or 0.0
    total = REGISTRY.get_sample_value("signal_intake_group_size_sum") or 0.0
    return count, total


def _drafts(rt, n: int) -> list[NewSignal]:
    """What n new signals of a field worker write, as the single POST prepares it."""
    reporter = Principal("fw-1", "demo-corp-a", frozenset({Role.FIELD_WORKER}))
    drafts = []
    for _ in range(n):
        body, problems = parse_signal(signal_body())
        assert body is not None, problems
        drafts.append(new_signal(body, reporter, rt.crypto, "urn:test", None))
    return drafts


async def _counts(client) -> tuple[int, ...]:
    async with db(client) as session:
        return tuple([int(await session.scalar(select(func.count()).select_from(m)))
                      for m in (Signal, StatusChange, Outbox, IdempotencyKey)])


async def test_concurrent_signals_share_commits_and_each_is_settled_once(
        signals_service, auth):
    async with signals_service() as client:
        h = auth("field-worker")
        fresh = [signal_body() for _ in range(40)]
        twice = signal_body()
        keyed = {**h, "Idempotency-Key": "app-7-retry"}
        requests = [(b, h) for b in fresh] + [
            (twice, h), (twice, h),                      # a retry: created, then replayed
            ({**twice, "severity": "high"}, h),          # same id, other body: conflict
            (signal_body(), keyed), (signal_body(), keyed),  # one key, two bodies: conflict
        ]
        commits, taken = _groups()
        answers = await asyncio.gather(*(client.post("/v1/signals", json=b, headers=hd)
                                         for b, hd in requests))
        statuses = [r.status_code for r in answers]
        assert statuses[:40] == [201] * 40
        assert sorted(statuses[40:43]) == [200, 201, 409]
        assert sorted(statuses[43:]) == [201, 409]
        # 42 signals, each with its first history entry and one event; one key.
        assert await _counts(client) == (42, 42, 42, 1)
        commits_after, taken_after = _groups()
        assert taken_after - taken == len(requests)
        assert commits_after - commits <= 5, "concurrent requests did not share commits"


async def test_a_unique_violation_rolls_the_whole_group_back(signals_service, auth):
    """Another process stored a row first: nothing of the group stays, every signal in it is
    sent to the ordinary path, which stores it (or replays it) one by one."""
    async with signals_service() as client:
        h = auth("field-worker")
        first = await client.post("/v1/signals", json=signal_body(), headers=h)
        assert first.status_code == 201
        rt = runtime_of(client)
        async with db(client) as session:
            taken_event = await session.scalar(select(Outbox.event_id))
        drafts = _drafts(rt, 3)
        # The last one's event clashes with a stored event id (unique), as a row written by
        # another replica between our look and our insert would.
        drafts[-1].events[0]["event_id"] = taken_event
        before = await _counts(client)
        outcomes = await asyncio.gather(*(rt.intake.store([d]) for d in drafts))
        assert outcomes == [["deferred"]] * 3
        assert await _counts(client) == before  # nothing half-written
        # The writer goes on: the next signal is stored as usual.
        again = await client.post("/v1/signals", json=signal_body(), headers=h)
        assert again.status_code == 201
        assert (await _counts(client))[0] == before[0] + 1


async def test_a_batch_is_never_split_over_two_commits(signals_service):
    async with signals_service() as client:
        rt = runtime_of(client)
        drafts = _drafts(rt, 4)
        writer = GroupWriter(rt.engine, rt.notify_relay, max_group=3)
        small = REGISTRY.get_sample_value("signal_intake_group_size_bucket", {"le": "2.0"})
        try:
            results = await asyncio.gather(writer.store(drafts[:2]), writer.store(drafts[2:]))
        finally:
            await writer.stop()
        assert results == [["created", "created"], ["created", "created"]]
        # Two commits of two, not one of three and one of one.
        after = REGISTRY.get_sample_value("signal_intake_group_size_bucket", {"le": "2.0"})
        assert after - small == 2
        assert (await _counts(client))[:3] == (4, 4, 4)


async def test_a_locked_database_is_a_503_for_the_whole_group_and_nothing_is_stored(
        signals_service, auth, database_kind):
    if database_kind != "sqlite":
        pytest.skip("another process's write lock is a SQLite matter")
    async with signals_service(sqlite_busy_timeout_ms=200) as client:
        h = auth("field-worker")
        path = runtime_of(client).settings.sqlalchemy_url().split("///", 1)[1]
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            answers = await asyncio.gather(
                *(client.post("/v1/signals", json=signal_body(), headers=h) for _ in range(3)),
                client.post("/v1/signals/batch", json=[signal_body(), signal_body()],
                            headers=h))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert [r.status_code for r in answers] == [503] * 4
        assert all(r.headers["content-type"] == "application/problem+json" for r in answers)
        assert await _counts(client) == (0, 0, 0, 0)
        again = await client.post("/v1/signals", json=signal_body(), headers=h)
        assert again.status_code == 201  # and the writer recovers
