"""The AsyncAPI document follows the code, and the committed copy is current."""

import json

from shared.asyncapi import build_document
from shared.contracts import ALL_EVENT_TYPES
from shared.settings import ROOT


def test_every_event_type_is_documented_with_its_schema():
    doc = build_document()
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == {et.type for et in ALL_EVENT_TYPES}
    for et in ALL_EVENT_TYPES:
        msg = next(m for m in doc["components"]["messages"].values() if m["name"] == et.type)
        schema = doc["components"]["schemas"][msg["payload"]["$ref"].rsplit("/", 1)[1]]
        assert set(schema["properties"]) == {
            f.alias or n for n, f in et.data_model.model_fields.items()}


def test_committed_document_is_current():
    committed = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    assert committed == json.loads(json.dumps(build_document())), "run `make asyncapi`"
