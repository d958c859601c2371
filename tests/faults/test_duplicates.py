"""Every event delivered twice and shuffled within its key: the read models equal a clean run's.

Kafka promises order per partition and at-least-once delivery; a producer retry, a replayed DLQ
record or a consumer restart gives duplicates, and an event of a key can overtake another when
it is replayed. The indicators consumer must not care: the same stream of signal events
(recorded, escalated, erased; late ones from past months; several categories per household for
stacking) goes once and in order to one broker, and twice and shuffled per key to another, each
consumed by a fresh indicators instance on a fresh database. Every indicator of every area and
period must come out identical.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from services.indicators.models import Inbox
from services.indicators.tests.helpers import recorded, small_register
from shared.contracts.signals import (
    SIGNAL_ERASED,
    SIGNAL_ESCALATED,
    SIGNAL_RECORDED,
    SignalErased,
    SignalEscalated,
)
from shared.events import CloudEvent
from shared.kafka import ensure_topics
from tests.helpers import eventually
from tools.broker import embedded_broker

BUURTEN = ["BU03440101", "BU03440102", "BU03440103", "BU03440201"]
AREAS = [*BUURTEN, "WK034401", "WK034402", "GM0344", "PA-test", "NL00"]
PERIODS = [f"month:{m}" for m in ("2025-12", "2026-03", "2026-07", "2026-10", "2026-11")]
PERIODS += ["rolling-12m:2026-11", "rolling-12m:2026-10"]
CATEGORIES = ["rent-arrears", "financial-worries", "nuisance", "neglect", "loneliness"]
MONTHS = ["2025-12-05", "2026-02-11", "2026-03-20", "2026-07-01", "2026-10-15", "2026-11-02"]


def signal_stream(rng: random.Random) -> list[tuple[str, CloudEvent]]:
    """(key, event) in the order the signals service would publish them."""
    stream: list[tuple[str, CloudEvent]] = []

    def emit(area: str, event_type: Any, data: Any) -> None:
        stream.append((area, CloudEvent.new("urn:test:signals", event_type.type, data)))

    for n in range(240):
        area = rng.choice(BUURTEN)
        household = f"hh-{area}-{rng.randrange(40)}"  # repeats: stacking across categories
        category = rng.choice(CATEGORIES + ["unsafe-situation"])
        signal = recorded(area, household, category=category, observed=rng.choice(MONTHS),
                          signal_id=uuid.uuid4())
        emit(area, SIGNAL_RECORDED, signal)
        if category == "unsafe-situation" and n % 2 == 0:
            emit(area, SIGNAL_ESCALATED, SignalEscalated(
                signal_id=signal.signal_id, area_code=area, category=category,
                severity="acute", escalated_at=signal.observed_at))
        if n % 9 == 0:
            emit(area, SIGNAL_ERASED, SignalErased(
                signal_id=signal.signal_id, area_code=area,
                erased_at=datetime(2026, 11, 20, tzinfo=UTC)))
    return stream


def twice_shuffled_per_key(stream: list[tuple[str, CloudEvent]],
                           rng: random.Random) -> list[tuple[str, CloudEvent]]:
    by_key: dict[str, list[CloudEvent]] = defaultdict(list)
    for key, event in stream:
        by_key[key] += [event, event]
    for events in by_key.values():
        rng.shuffle(events)
    # Interleave the keys again so partitions fill side by side, as in production.
    out: list[tuple[str, CloudEvent]] = []
    while any(by_key.values()):
        for key in sorted(by_key):
            if by_key[key]:
                out.append((key, by_key[key].pop()))
    return out


def erasures_before_their_signal(stream: list[tuple[str, CloudEvent]]) -> int:
    seen: set[str] = set()
    early = 0
    for _, event in stream:
        if event.type == SIGNAL_RECORDED.type:
            seen.add(event.data["signalId"])
        elif event.type == SIGNAL_ERASED.type and event.data["signalId"] not in seen:
            early += 1
    return early


async def read_models(indicators: Any, stream: list[tuple[str, CloudEvent]], distinct: int,
                      auth: Any, bootstrap: str, database: str) -> dict[str, Any]:
    group = f"indicators.dup.{uuid.uuid4().hex[:8]}"
    async with indicators(consumer_enabled=True, signals_consumer_group=group,
                          kafka_bootstrap_servers=bootstrap, database_url=database) as svc:
        admin = auth("admin")
        await small_register(svc.client, admin)
        await ensure_topics(svc.runtime.settings, ["signals.v1"])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, event in stream:
                await producer.send_and_wait("signals.v1", event.value(), key=key.encode(),
                                             headers=event.headers())
        finally:
            await producer.stop()

        async def all_applied() -> bool:  # the database is fresh: nothing was applied before
            async with svc.runtime.sessions() as session:
                n = await session.scalar(select(func.count()).select_from(Inbox))
            return n == distinct

        await eventually(all_applied, timeout_s=60)
        models: dict[str, Any] = {}
        for area in AREAS:
            for period in PERIODS:
                r = await svc.client.get(f"/v1/areas/{area}/indicators",
                                         params={"period": period}, headers=admin)
                assert r.status_code == 200, (area, period, r.text)
                models[f"{area} {period}"] = _without_clock(r.json())
        for buurt in BUURTEN:
            r = await svc.client.get(f"/v1/areas/{buurt}/signal-counts", headers=admin)
            assert r.status_code == 200, r.text
            models[f"{buurt} counts"] = r.json()
        return models


def _without_clock(body: Any) -> Any:
    """Drop when-it-was-computed stamps: the only thing two runs may differ in."""
    if isinstance(body, dict):
        return {k: _without_clock(v) for k, v in body.items() if k not in ("computedAt",)}
    if isinstance(body, list):
        return [_without_clock(v) for v in body]
    return body


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)  # the broker path is tested
async def test_every_event_twice_and_shuffled_gives_the_read_models_of_a_clean_run(
        indicators, auth, database_url):
    rng = random.Random(20261128)
    stream = signal_stream(rng)
    chaos = twice_shuffled_per_key(stream, rng)
    assert len(chaos) == 2 * len(stream)
    assert erasures_before_their_signal(chaos) > 0  # the hard case really occurs

    with embedded_broker() as clean_broker:
        clean = await read_models(indicators, stream, len(stream), auth,
                                  clean_broker.bootstrap_servers, database_url("clean"))
    with embedded_broker() as chaos_broker:
        messy = await read_models(indicators, chaos, len(stream), auth,
                                  chaos_broker.bootstrap_servers, database_url("chaos"))

    # The clean run counted something in every buurt, so equality below is not vacuous.
    assert all(clean[f"{b} counts"]["signals"] > 0 for b in BUURTEN)
    differing = [k for k in clean if clean[k] != messy[k]]
    assert not differing, f"{len(differing)} read models differ, e.g. {differing[:3]}"
