"""Event ids are UUIDv7: unique, and ordered by the moment they were made."""

from __future__ import annotations

import time
import uuid

from shared.events import CloudEvent, EventData, new_event_id


class Ping(EventData):
    n: int


def _millis(event_id: str) -> int:
    return uuid.UUID(event_id).int >> 80


def test_an_event_id_is_a_version_7_uuid_of_this_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    event_id = new_event_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(event_id)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert str(parsed) == event_id
    assert before <= _millis(event_id) <= after


def test_event_ids_are_unique_and_sort_by_time() -> None:
    ids = []
    for _ in range(3):
        ids += [new_event_id() for _ in range(5_000)]
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    # Within one millisecond the order is random; across milliseconds it is the time order,
    # which is what keeps an index on event ids appending at its end.
    stamps = [_millis(i) for i in ids]
    assert stamps == sorted(stamps)
    assert sorted(ids) == sorted(ids, key=lambda i: (_millis(i), i))
    assert stamps[-1] - stamps[0] >= 4


def test_a_new_cloud_event_gets_one() -> None:
    event = CloudEvent.new("/test", "nl.dichtdekloof.test.ping.v1", Ping(n=1))
    assert uuid.UUID(event.id).version == 7
