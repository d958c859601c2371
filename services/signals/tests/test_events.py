"""Events on the real broker: every kind is published and none carries personal data."""

from __future__ import annotations

import re
import time

import orjson
from aiokafka import AIOKafkaConsumer

from services.signals.tests.conftest import (
    AMOUNT,
    NOTE,
    create,
    move,
    rent_arrears_body,
)
from shared.contracts.signals import TOPIC

# Anything that would identify a household or say what happened behind the door.
FORBIDDEN = [re.compile(p) for p in (
    r"3011\s?AB", r"(?i)postcode", r"(?i)housenumber", r"(?i)unitRef", r"(?i)note",
    r"(?i)arrears(Amount|Since)", str(AMOUNT), re.escape(NOTE), r"geschreeuw",
    r"unit-secret-7",
)]


async def _consume_until(broker, done, timeout_s: float = 30.0):
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=broker.bootstrap_servers, group_id=None,  # no join: seconds
        auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    messages = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                messages.extend(batch)
            if done(messages):
                return messages
        raise AssertionError(f"only {len(messages)} messages arrived")
    finally:
        await consumer.stop()


async def test_events_are_thin(signals_service, auth, broker):
    async with signals_service(relay_enabled=True) as client:
        fw, coord = auth("field-worker"), auth("coordinator")
        noisy = await create(client, fw)
        acute = await create(client, fw, category="unsafe-situation", subcategory="danger",
                             severity="acute", unitRef="unit-secret-7", postcode=None,
                             houseNumber=None, houseLetter=None)
        rent = await create(client, fw, **rent_arrears_body())
        for s in (noisy, rent):
            assert (await move(client, s["id"], coord, "triaged")).status_code == 201
        r = await client.post(f"/v1/signals/{rent['id']}/referrals", json={
            "partnerOrganisation": "demo-municipality", "purpose": "vroegsignalering-schulden"},
            headers=coord)
        assert r.status_code == 201, r.text
        erased = await client.post("/v1/data-subject-erasures",
                                   json={"unitRef": "unit-secret-7"},
                                   headers=auth("privacy-officer"))
        assert erased.json()["erased"] == 1
        ours = {noisy["id"], acute["id"], rent["id"]}

        def done(messages):
            kinds = {(m.key.decode(), dict(m.headers)["ce_type"].decode().split(".")[-2],
                      orjson.loads(m.value)["signalId"]) for m in messages}
            return {(k, s) for _, k, s in kinds if s in ours} >= {
                ("signal-recorded", noisy["id"]), ("signal-escalated", acute["id"]),
                ("signal-referred", rent["id"]), ("signal-status-changed", rent["id"]),
                ("signal-erased", acute["id"])}

        messages = await _consume_until(broker, done)
    for m in messages:  # every event on the topic, from every test so far
        text = m.value.decode() + repr(m.headers) + (m.key or b"").decode()
        for pattern in FORBIDDEN:
            assert not pattern.search(text), f"{pattern.pattern} in {text}"
        assert re.fullmatch(r"BU\d{8}", m.key.decode())
    by_signal: dict[str, dict[str, dict]] = {}
    for m in messages:
        data = orjson.loads(m.value)
        kind = dict(m.headers)["ce_type"].decode().split(".")[-2]
        by_signal.setdefault(data["signalId"], {})[kind] = data
    recorded, gone = by_signal[acute["id"]]["signal-recorded"], by_signal[acute["id"]][
        "signal-erased"]
    # An erasure names the signal, not its household: consumers forget it by its id.
    assert "householdStatsPseudonym" in recorded and "householdStatsPseudonym" not in gone
    assert (gone["signalId"], gone["areaCode"]) == (recorded["signalId"], recorded["areaCode"])
