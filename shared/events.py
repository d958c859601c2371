"""The event envelope: CloudEvents 1.0 in Kafka binary mode, NL GOV profile.

Attributes travel as `ce_*` headers, the value is the JSON data. Each event type has a
pydantic model for its data; a type's data only ever gains optional fields (evolution), so
consumers ignore fields they do not know.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "nl.dichtdekloof"


class EventData(BaseModel):
    """Base of every event's data: camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


D = TypeVar("D", bound=EventData)


class EventType(Generic[D]):
    """One event type of a topic: its CloudEvents `type`, data model and meaning."""

    def __init__(
        self, type_: str, topic: str, data_model: type[D], summary: str, key: str = "areaCode"
    ) -> None:
        self.type = type_
        self.topic = topic
        self.data_model = data_model
        self.summary = summary
        self.key = key  # what the Kafka key is, for the AsyncAPI document

    def parse(self, data: Any) -> D:
        return self.data_model.model_validate(data)

    def __repr__(self) -> str:
        return f"EventType({self.type!r})"


def event_type_name(service: str, name: str, major: int = 1) -> str:
    return f"{TYPE_PREFIX}.{service}.{name}.v{major}"


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered, so the unique index on outbox and inbox event ids takes new ids at its
    right edge, as it does ids from a sequence. Random (v4) ids landed on a random index page
    each: a group commit of signals wrote that many more pages, and SQLite's commit and
    checkpoint cost follows the pages written. The moment it shows is the event's `time`
    anyway. Within one millisecond the order is random; nothing relies on it. (Python 3.14
    brings `uuid.uuid7`.)
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: 12 for rand_a, 62 for rand_b
    value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64
             | 0b10 << 62 | rand & 0x3FFF_FFFF_FFFF_FFFF)
    return str(uuid.UUID(int=value))


class EnvelopeError(ValueError):
    """A Kafka message that is not a valid CloudEvent of ours: it goes to the DLQ at once."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    time: datetime
    data: dict[str, Any]
    subject: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def new(
        source: str, type_: str, data: EventData, subject: str | None = None
    ) -> CloudEvent:
        return CloudEvent(
            id=new_event_id(),
            source=source,
            type=type_,
            time=datetime.now(UTC),
            data=data.model_dump(mode="json", by_alias=True, exclude_none=True),
            subject=subject,
        )

    def value(self) -> bytes:
        return orjson.dumps(self.data)

    def headers(self) -> list[tuple[str, bytes]]:
        h = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().replace("+00:00", "Z").encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.subject is not None:
            h.append(("ce_subject", self.subject.encode()))
        h.extend((f"ce_{k}", v.encode()) for k, v in sorted(self.extensions.items()))
        return h


def decode(headers: Sequence[tuple[str, bytes]], value: bytes | None) -> CloudEvent:
    """Kafka binary-mode message -> CloudEvent, or EnvelopeError saying what is wrong."""
    attrs: dict[str, str] = {}
    content_type = None
    try:
        for name, raw in headers or ():
            if name.startswith("ce_"):
                attrs[name[3:]] = raw.decode()
            elif name.lower() == "content-type":
                content_type = raw.decode()
    except UnicodeDecodeError as exc:
        raise EnvelopeError("a ce_ header is not UTF-8") from exc
    missing = [a for a in ("specversion", "id", "source", "type") if not attrs.get(a)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents attributes: {', '.join(missing)}")
    if attrs["specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported specversion {attrs['specversion']!r}")
    if content_type is not None and not content_type.startswith(CONTENT_TYPE):
        raise EnvelopeError(f"unsupported content-type {content_type!r}")
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("value is not a JSON object")
    try:
        time = datetime.fromisoformat(attrs["time"]) if attrs.get("time") else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not RFC 3339: {attrs['time']!r}") from exc
    known = {"specversion", "id", "source", "type", "time", "subject"}
    return CloudEvent(
        id=attrs["id"], source=attrs["source"], type=attrs["type"], time=time,
        data=data, subject=attrs.get("subject"),
        extensions={k: v for k, v in attrs.items() if k not in known},
    )


def describe_validation_error(exc: ValidationError) -> str:
    """A compact, data-free summary (field paths and messages, never input values)."""
    parts = [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()]
    return "; ".join(parts)[:1000]
