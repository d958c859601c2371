"""Delivery over the real broker: outbox under outage, inbox deduplication, dead letters."""

import asyncio
import itertools
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from shared.consumer import APPLY_SLICE, TURN_EVERY, EventConsumer
from shared.events import CloudEvent
from shared.kafka import ensure_topics
from shared.tests import testapp
from shared.tests.conftest import applied, at_least, note, read_topic, running
from shared.tests.testapp import NoteRecorded, note_type
from tests.helpers import eventually
from tools.broker import EmbeddedBroker, free_port
from tools.replay import replay


async def test_intake_goes_on_while_the_broker_is_down(testsvc_settings, auth):
    broker = EmbeddedBroker(free_port()).start()
    settings = testsvc_settings(kafka_bootstrap_servers=broker.bootstrap_servers,
                                consumer_enabled=False)
    try:
        async with running(settings) as client:
            await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
            await eventually(lambda: _backlog_is(client, 0))
            broker.stop()
            for _ in range(20):
                r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
                assert r.status_code == 201
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["outbox"]["backlog"] >= 20
            broker.start()  # empty: the memory engine lost the first event and the topics

            await eventually(lambda: _backlog_is(client, 0), timeout_s=60)
            # The restarted broker is empty: the note published before the outage was lost
            # with it, detected, and re-published from the outbox. All 21 are there.
            messages = await read_topic(broker.bootstrap_servers, settings.topic, 21)
            ids = {orjson.loads(m.value)["noteId"] for m in messages}
            assert len(ids) == 21
    finally:
        broker.stop()


async def test_a_redelivered_event_is_applied_once(testsvc_settings, broker, auth):
    settings = testsvc_settings()
    async with running(settings) as client:
        data = NoteRecorded(note_id=uuid.uuid4(), area="BU03630001", count=2)
        event = CloudEvent.new("urn:test", note_type(settings.topic).type, data)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            for _ in range(3):
                await producer.send_and_wait(settings.topic, event.value(), key=b"BU03630001",
                                             headers=event.headers())
            r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
            assert r.status_code == 201
            await eventually(lambda: at_least(client, auth, 2))
            await asyncio.sleep(1.0)  # would a late duplicate still land?
            assert await applied(client, auth) == 2
        finally:
            await producer.stop()


async def test_a_large_fetch_is_applied_in_slices_with_turns_between(
        testsvc_settings, broker, auth, monkeypatch):
    """A fetch of hundreds of events (a consumer catching up) is applied in transactions of at
    most APPLY_SLICE events, with a turn of the event loop every TURN_EVERY events: on SQLite
    statements never give the loop a turn, and 500 events in one go held every request for
    over 100 ms."""
    settings = testsvc_settings()
    events = [CloudEvent.new("urn:test", note_type(settings.topic).type, NoteRecorded(
        note_id=uuid.uuid4(), area="BU03630001", count=1)) for _ in range(3 * APPLY_SLICE)]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=50)
    await ensure_topics(settings, [settings.topic])
    await producer.start()
    try:
        for event in events:  # one partition (one key), ahead of the consumer
            await producer.send(settings.topic, event.value(), key=b"BU03630001",
                                headers=event.headers())
        await producer.flush()
    finally:
        await producer.stop()
    sizes: list[int] = []
    turns, seen, effects = 0, [], []  # the loop's turns so far, as each transaction starts
    apply, effect = EventConsumer.apply_together, testapp.apply_note

    async def counted(self, messages):
        sizes.append(len(messages))
        seen.append(turns)
        return await apply(self, messages)

    async def effect_counted(session, event, data):
        effects.append(turns)
        return await effect(session, event, data)

    async def ticker():
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    monkeypatch.setattr(EventConsumer, "apply_together", counted)
    monkeypatch.setattr(testapp, "apply_note", effect_counted)
    async with running(settings) as client:
        task = asyncio.create_task(ticker())
        try:
            await eventually(lambda: at_least(client, auth, len(events)), timeout_s=30)
        finally:
            task.cancel()
        assert await applied(client, auth) == len(events)
    assert sum(sizes) == len(events) and max(sizes) <= APPLY_SLICE < len(events)
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))
    # Within a transaction too, a turn every TURN_EVERY events.
    assert len(effects) == len(events) and len(set(effects)) >= len(events) // TURN_EVERY


async def _backlog_is(client, n):
    r = await client.get("/readyz")
    return r.json()["checks"]["outbox"]["backlog"] == n or None


@pytest.mark.parametrize("poison", ["garbage", "wrong-schema", "permanent", "always-fails"])
async def test_poison_goes_to_the_dlq_and_the_rest_is_processed(
        testsvc_settings, broker, auth, poison):
    settings = testsvc_settings()
    async with running(settings) as client:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        etype = note_type(settings.topic).type
        try:
            if poison == "garbage":
                await producer.send_and_wait(settings.topic, b"\x00\xffnot json", key=b"k",
                                             headers=[("ce_id", b"1")])
            else:
                data = {"noteId": str(uuid.uuid4()), "area": "BU03630001",
                        "count": {"wrong-schema": "x", "permanent": 666,
                                  "always-fails": 13}[poison]}
                event = CloudEvent("e-" + poison, "urn:test", etype,
                                   CloudEvent.new("urn:test", etype, NoteRecorded(
                                       note_id=uuid.uuid4(), area="x", count=0)).time, data)
                await producer.send_and_wait(settings.topic, event.value(), key=b"k",
                                             headers=event.headers())
            for _ in range(3):
                r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
                assert r.status_code == 201
            await eventually(lambda: at_least(client, auth, 3))
            dead = await read_topic(broker.bootstrap_servers, settings.topic + ".dlq", 1)
            assert len(dead) == 1
            headers = dict(dead[0].headers)
            assert headers["dlq_original_topic"] == settings.topic.encode()
            assert headers["dlq_consumer_group"].startswith(b"testsvc-")
            assert {"dlq_original_partition", "dlq_original_offset", "dlq_exception_type",
                    "dlq_exception_message"} <= headers.keys()
            assert dead[0].key == b"k"
            assert await applied(client, auth) == 3
        finally:
            await producer.stop()


async def test_a_fixed_dead_letter_is_replayed_and_applied_once(testsvc_settings, broker, auth):
    """Poison first (the handler fails), then the cause is 'fixed' and the DLQ replayed."""
    settings = testsvc_settings()
    etype = note_type(settings.topic).type
    async with running(settings) as client:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            data = {"noteId": str(uuid.uuid4()), "area": "BU03630001", "count": 13}
            event = CloudEvent("replay-1", "urn:test", etype,
                               CloudEvent.new("urn:test", etype, NoteRecorded(
                                   note_id=uuid.uuid4(), area="x", count=0)).time, data)
            await producer.send_and_wait(settings.topic, event.value(), key=b"k",
                                         headers=event.headers())
            assert len(await read_topic(broker.bootstrap_servers,
                                        settings.topic + ".dlq", 1)) == 1
            assert await applied(client, auth) == 0
        finally:
            await producer.stop()
        testapp.UNLUCKY.discard(13)  # the fix
        try:
            assert await replay(settings.topic, settings, idle_timeout_s=2) == 1
            await eventually(lambda: at_least(client, auth, 1))
            assert await replay(settings.topic, settings, idle_timeout_s=2) == 0
            await asyncio.sleep(1.0)
            assert await applied(client, auth) == 1
        finally:
            testapp.UNLUCKY.add(13)


async def test_a_broker_that_lost_data_while_no_relay_ran_gets_it_again(
        testsvc_settings, auth):
    """The relay starts on a broker whose topic exists but is empty (an embedded broker that
    was restarted between two runs): what the outbox records as sent is sent again."""
    broker = EmbeddedBroker(free_port()).start()
    settings = testsvc_settings(kafka_bootstrap_servers=broker.bootstrap_servers,
                                consumer_enabled=False)
    try:
        async with running(settings) as client:
            for _ in range(5):
                r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
                assert r.status_code == 201
            await eventually(lambda: _backlog_is(client, 0))
        broker.stop()
        broker.start()  # empty, and nothing runs that could notice
        await ensure_topics(settings, [settings.topic])  # as `make run` creates them
        async with running(settings) as client:
            messages = await read_topic(broker.bootstrap_servers, settings.topic, 5)
            assert len({orjson.loads(m.value)["noteId"] for m in messages}) == 5
            await eventually(lambda: _backlog_is(client, 0))
    finally:
        broker.stop()


async def test_a_relay_that_starts_on_a_healthy_broker_sends_nothing_again(
        testsvc_settings, auth):
    """The start-up check reads log ends from a fetch: with ListOffsets, which Tansu answers
    wrongly after batched produce, this restart re-sent every event."""
    broker = EmbeddedBroker(free_port()).start()
    settings = testsvc_settings(kafka_bootstrap_servers=broker.bootstrap_servers,
                                consumer_enabled=False)
    try:
        async with running(settings) as client:
            posted = await asyncio.gather(*(
                client.post("/v1/notes", json=note(), headers=auth("field-worker"))
                for _ in range(60)))
            assert {r.status_code for r in posted} == {201}
            await eventually(lambda: _backlog_is(client, 0))
        async with running(settings) as client:
            r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
            assert r.status_code == 201
            await eventually(lambda: _backlog_is(client, 0))  # its first round ran the check
            messages = await read_topic(broker.bootstrap_servers, settings.topic, 62,
                                        timeout_s=4)
            assert len(messages) == 61
    finally:
        broker.stop()
