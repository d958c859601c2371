"""The platform's AsyncAPI 3 document, generated from the event contracts in code.

Every topic, its CloudEvents types, their JSON schemas, who sends and who receives (all from
`shared.contracts`). Served by each service at /v1/asyncapi.json and written to
docs/asyncapi.json by `make asyncapi` (tools/asyncapi.py); a test keeps the committed copy
equal to what the code generates.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import ALL_EVENT_TYPES
from shared.contracts.topics import BY_NAME, TOPICS
from shared.events import CONTENT_TYPE

CE_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "Unique per event"},
        "ce_source": {"type": "string", "description": "URN of the producing system"},
        "ce_type": {"type": "string", "description": "Reverse-DNS type with major version"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string"},
        "content-type": {"type": "string", "const": CONTENT_TYPE},
    },
}


def _message_name(event_type: str) -> str:
    # nl.dichtdekloof.signals.signal-recorded.v1 -> SignalRecordedV1
    *_, name, major = event_type.split(".")
    return "".join(p.capitalize() for p in name.split("-")) + major.upper()


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for et in ALL_EVENT_TYPES:
        name = _message_name(et.type)
        schema = et.data_model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name] = schema
        messages[name] = {
            "name": et.type, "title": et.summary, "contentType": CONTENT_TYPE,
            "headers": CE_HEADERS, "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": et.key}}},
        }
        topic = BY_NAME[et.topic]
        channel = channels.setdefault(et.topic.replace(".", "-"), {
            "address": et.topic, "messages": {},
            "description": topic.description
            or f"Topic {et.topic}; dead letters go to {et.topic}.dlq",
        })
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic in TOPICS:
        channel_id = topic.name.replace(".", "-")
        if channel_id not in channels:
            continue
        refs = [{"$ref": f"#/channels/{channel_id}/messages/{m}"}
                for m in channels[channel_id]["messages"]]
        sender = topic.sender
        operations[f"{sender}-sends-{channel_id}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": refs,
            "summary": topic.send or f"{sender} publishes through its outbox"}
        for receiver in topic.receivers:
            operations[f"{receiver}-receives-{channel_id}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": refs, "summary": topic.receive
                or f"{receiver} consumes idempotently (inbox), group {receiver}"}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Dicht de kloof events", "version": version,
                 "description": "CloudEvents 1.0 in Kafka binary mode (NL GOV profile). "
                                "Events are thin: no personal data."},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }

