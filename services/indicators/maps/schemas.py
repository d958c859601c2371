"""Area maps on the wire: GeoJSON (RFC 7946) with camelCase properties."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class MapImportReport(Schema):
    """What a map import did: outlines new, changed and unchanged; areas not in the register."""

    stored: int = Field(description="Outlines new or changed")
    unchanged: int
    by_level: dict[str, int] = Field(description="Outlines in the file per level")
    not_registered: list[str] = Field(
        description="Areas of the file not (yet) in the register; their outlines are kept "
        "and shown with the name from the map (at most 100 listed)")


_NULLABLE_STRING = {"type": ["string", "null"]}
# The GeoJSON answer, written out: it is built as bytes (outlines are stored as GeoJSON text),
# so no response model describes it.
FEATURE_COLLECTION_SCHEMA = {
    "type": "object",
    "description": "Outlines of one level within a parent as a GeoJSON FeatureCollection "
                   "(RFC 7946, WGS84 longitude/latitude)",
    "required": ["type", "level", "parentCode", "indicator", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "level": {"type": "string", "enum": ["gemeente", "wijk", "buurt"]},
        "parentCode": _NULLABLE_STRING,
        "indicator": {
            "type": ["object", "null"],
            "description": "The joined indicator; null when none was asked for",
            "properties": {"indicatorId": {"type": "string"}, "period": {"type": "string"},
                           "methodVersion": {"type": "string"}}},
        "features": {"type": "array", "items": {
            "type": "object",
            "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "geometry": {"type": "object",
                             "description": "GeoJSON Polygon or MultiPolygon"},
                "properties": {"type": "object", "properties": {
                    "code": {"type": "string"},
                    "level": {"type": "string"},
                    "name": _NULLABLE_STRING,
                    "parentCode": _NULLABLE_STRING,
                    "synthetic": {"type": "boolean",
                                  "description": "true: a made-up outline (demo register)"},
                    "indicator": {
                        "type": "object",
                        "description": "The published value (as in /indicators); only when "
                                       "`indicator` was asked for",
                        "properties": {
                            "indicatorId": {"type": "string"},
                            "value": {"type": ["number", "null"]},
                            "suppressed": {"type": "boolean"},
                            "reason": _NULLABLE_STRING}},
                }},
            }}},
    },
}
