"""Make FastAPI's OpenAPI document meet the NL API Design Rules (checked by Spectral).

Paths are published relative to the `/v1` server, every 2xx/3xx response documents the
`API-Version` header, every error is application/problem+json, and every operation documents
its 400 (every one takes input: an unknown query parameter is refused).
"""

from __future__ import annotations

import copy
from typing import Any

from shared import i18n
from shared.problems import PROBLEM_JSON, InvalidParam, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
API_VERSION_HEADER = {"$ref": "#/components/headers/API-Version"}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: every invalid field is listed in `invalidParams`",
    "401": "No valid bearer token",
    "403": "The token's roles or organisation do not allow this",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "412": "The `If-Match` ETag is stale",
    "413": "The body is too large",
    "415": "The body is not JSON",
    "422": "Valid input that cannot be processed",
    "428": "`If-Match` is required",
    "429": "Too many requests",
    "503": "A dependency is unavailable; retry later",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error statuses it can answer (problem bodies added)."""
    return {s: {"description": ERROR_DESCRIPTIONS.get(str(s), "Error")} for s in statuses}


def conform_openapi(spec: dict[str, Any], api_version: str, prefix: str = "/v1") -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec["servers"] = [{"url": prefix, "description": "This service, major version 1"}]
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"].pop("$defs", None)
    schemas["InvalidParam"] = InvalidParam.model_json_schema()
    components.setdefault("headers", {})["API-Version"] = {
        "description": "The full semantic version of this API",
        "schema": {"type": "string", "example": api_version},
    }
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        if path.startswith(prefix + "/"):
            path = path[len(prefix):]
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch"}:
                _conform_operation(method, operation)
        paths[path] = item
    spec["paths"] = paths
    i18n.document(spec)
    return spec


def _conform_operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None) if _is_fastapi_validation(responses.get("422")) else None
    # Every operation takes input: a query parameter it does not declare is a 400 as well
    # (shared.query_params).
    responses.setdefault("400", {})
    if operation.get("security"):
        responses.setdefault("401", {})
        responses.setdefault("403", {})
        responses.setdefault("429", {})
    for status, response in responses.items():
        if status.startswith(("2", "3")):
            response.setdefault("headers", {})["API-Version"] = API_VERSION_HEADER
        elif status.startswith(("4", "5")):
            response["description"] = response.get("description") or ERROR_DESCRIPTIONS.get(
                status, "Error")
            if response["description"] in {"Validation Error", "Error"}:
                response["description"] = ERROR_DESCRIPTIONS.get(status, "Error")
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
            response.setdefault("headers", {})["API-Version"] = API_VERSION_HEADER


def _is_fastapi_validation(response: dict[str, Any] | None) -> bool:
    if response is None:
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))
