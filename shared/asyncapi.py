"""The platform's AsyncAPI 3 document, generated from the event contracts in code.

Every topic, its CloudEvents types, their JSON schemas, who sends and who receives. Served by
each service at /v1/asyncapi.json and written to docs/asyncapi.json (`make asyncapi`); a test
keeps the committed copy equal to what the code generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contracts import ALL_EVENT_TYPES
from shared.events import CONTENT_TYPE

#: Who sends to and who receives from each topic (services never import each other).
TOPOLOGY: dict[str, dict[str, list[str]]] = {
    "signals.v1": {"senders": ["signals"], "receivers": ["indicators"]},
    "areas.v1": {"senders": ["indicators"], "receivers": ["funding"]},
    "indicators.v1": {"senders": ["indicators"], "receivers": ["funding"]},
    "funding.v1": {"senders": ["funding"], "receivers": []},
    "access-log-checkpoints.v1": {"senders": ["signals"], "receivers": ["signals"]},
}

#: Topics that are not an outbox-fed stream for consumer groups: how they are used instead.
SPECIAL_USE = {
    "access-log-checkpoints.v1": {
        "description": "Topic access-log-checkpoints.v1: one partition, compacted, no dead "
                       "letters. Only signals may write it (Kafka ACL).",
        "send": "signals publishes its access log's head directly (not through its outbox, "
                "which lives in the database the checkpoint guards), every "
                "DDK_SIGNALS_ACCESS_LOG_CHECKPOINT_INTERVAL_S",
        "receive": "signals reads the latest checkpoint when a privacy officer verifies the "
                   "access log (no consumer group)",
    },
}

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
        special = SPECIAL_USE.get(et.topic, {})
        channel = channels.setdefault(et.topic.replace(".", "-"), {
            "address": et.topic, "messages": {},
            "description": special.get(
                "description", f"Topic {et.topic}; dead letters go to {et.topic}.dlq"),
        })
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for topic, roles in TOPOLOGY.items():
        channel_id = topic.replace(".", "-")
        if channel_id not in channels:
            continue
        refs = [{"$ref": f"#/channels/{channel_id}/messages/{m}"}
                for m in channels[channel_id]["messages"]]
        special = SPECIAL_USE.get(topic, {})
        for service in roles["senders"]:
            operations[f"{service}-sends-{channel_id}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": refs,
                "summary": special.get("send", f"{service} publishes through its outbox")}
        for service in roles["receivers"]:
            operations[f"{service}-receives-{channel_id}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": refs, "summary": special.get(
                    "receive", f"{service} consumes idempotently (inbox), group {service}")}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Dicht de kloof events", "version": version,
                 "description": "CloudEvents 1.0 in Kafka binary mode (NL GOV profile). "
                                "Events are thin: no personal data."},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def main(out: str = "docs/asyncapi.json") -> int:
    Path(out).write_text(json.dumps(build_document(), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
