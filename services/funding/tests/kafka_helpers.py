"""Publishing input events to the real broker and reading funding.v1, for the tests."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts import areas, funding, indicators
from shared.events import CloudEvent, EventData, EventType

SOURCE = "urn:nl:dichtdekloof:test"


async def publish(bootstrap: str, events: list[tuple[EventType[Any], EventData, str]],
                  reuse: CloudEvent | None = None) -> list[CloudEvent]:
    """Send events (type, data, key); returns the CloudEvents (to redeliver one)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent = []
    try:
        for event_type, data, key in events:
            event = reuse or CloudEvent.new(SOURCE, event_type.type, data)
            await producer.send_and_wait(event_type.topic, event.value(), key=key.encode(),
                                         headers=event.headers())
            sent.append(event)
    finally:
        await producer.stop()
    return sent


async def funding_events(bootstrap: str, scenario_id: str, want: int,
                         timeout_s: float = 30.0) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of funding.v1 events about one scenario, until `want` are seen."""
    consumer = AIOKafkaConsumer(funding.TOPIC, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None)
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < want and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for m in messages:
                    data = orjson.loads(m.value)
                    if data.get("scenarioId") == scenario_id:
                        ce_type = dict(m.headers)["ce_type"].decode()
                        found.append((ce_type, data))
    finally:
        await consumer.stop()
    return found


@dataclass
class SyntheticWorld:
    """A unique gemeente: two programme areas of three buurten, and three other buurten."""

    gemeente: str = field(default_factory=lambda: f"GM{random.randint(9000, 9999)}")
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def digits(self) -> str:
        return self.gemeente[2:]

    @property
    def wijken(self) -> list[str]:
        return [f"WK{self.digits}0{w}" for w in (1, 2, 3)]

    def buurten(self, wijk: int) -> list[str]:
        return [f"BU{self.digits}0{wijk}0{b}" for b in (1, 2, 3)]

    @property
    def programme_areas(self) -> dict[str, list[str]]:
        return {f"PA-test-{self.tag}-a": self.buurten(1), f"PA-test-{self.tag}-b": self.buurten(2)}

    @property
    def others(self) -> list[str]:
        return self.buurten(3)

    def score(self, code: str) -> float:
        return {"1": 1.5, "2": 0.75, "3": 0.25}[code[-1]] + (0.5 if code[7] == "1" else 0)

    def decile(self, code: str) -> int:
        return {"1": 10, "2": 8, "3": 3}[code[-1]] if code[7] == "3" else 9

    def area_events(self) -> list[tuple[EventType[Any], EventData, str]]:
        out: list[tuple[EventType[Any], EventData, str]] = []
        for pa_id, codes in self.programme_areas.items():
            out.append((areas.PROGRAMME_AREA_UPSERTED, areas.ProgrammeAreaUpserted(
                id=pa_id, name=f"Focus {pa_id}", gemeente_code=self.gemeente, buurt_codes=codes,
                synthetic=True, updated_at=self.at), pa_id))
        membership = {c: pa for pa, codes in self.programme_areas.items() for c in codes}
        for w, wijk in enumerate(self.wijken, start=1):
            for i, code in enumerate(self.buurten(w)):
                stats = [areas.AreaStatistics(year=2023, inhabitants=1000, households=400),
                         areas.AreaStatistics(year=2024, inhabitants=1000 + 250 * i + 10 * w,
                                              households=500 + 7 * i, corporation_dwellings=90)]
                out.append((areas.AREA_UPSERTED, areas.AreaUpserted(
                    code=code, level="buurt", name=f"Synthetic buurt {code}", parent_code=wijk,
                    programme_area_ids=[membership[code]] if code in membership else [],
                    statistics=stats, synthetic=True, updated_at=self.at), code))
        return out

    def indicator_event(self, code: str, score: float, when: datetime,
                        ) -> tuple[EventType[Any], EventData, str]:
        return (indicators.AREA_INDICATORS_UPDATED, indicators.AreaIndicatorsUpdated(
            area_code=code, level="buurt", period="rolling-12m:2026-11", method_version="vi-1.0.0",
            values=[indicators.IndicatorValue(indicator_id="signals", value=3.0)],
            composite_score=score, composite_rank=1, composite_decile=self.decile(code),
            computed_at=when), code)

    def indicator_events(self) -> list[tuple[EventType[Any], EventData, str]]:
        return [self.indicator_event(c, self.score(c), self.at - timedelta(hours=1))
                for w in (1, 2, 3) for c in self.buurten(w)]

    def programme(self, **formula: Any) -> dict[str, Any]:
        themes = [{"code": "education", "share": "0.333333"},
                  {"code": "labour-market", "share": "0.333333"},
                  {"code": "safety", "share": "0.333334"}]
        return {
            "name": f"Test programme {self.tag}", "currency": "EUR",
            "firstYear": 2027, "lastYear": 2029,
            "pools": [
                {"name": "focus", "annualAmountCents": 1_000_000_01,
                 "eligibility": {"kind": "programme-areas",
                                 "programmeAreaIds": sorted(self.programme_areas)},
                 "themes": themes, "allocationLevel": "programme-area",
                 "formula": {"base": "inhabitants",
                             "need": {"indicator": "composite-index", "threshold": "0"},
                             **formula}},
                {"name": "vulnerable", "annualAmountCents": 333_333_33,
                 "eligibility": {"kind": "other-vulnerable", "minCompositeDecile": 8,
                                 "gemeenteCodes": [self.gemeente]},
                 "themes": themes, "allocationLevel": "buurt",
                 "formula": {"base": "households",
                             "need": {"indicator": "composite-index", "threshold": "0.1",
                                      "exponent": "2"}}},
            ],
        }
