"""Unknown query parameters are refused: a 400 problem naming every one of them.

A typo (`?stauts=open`) silently ignored answers a question nobody asked: the caller gets every
signal and believes them filtered. So each route accepts exactly the query parameters it
declares, its dependencies' included, as FastAPI's dependant tree has them (by alias, the
name on the wire); anything else is a 400 before the route runs. A NUL byte or text that is
not UTF-8 in a parameter is a 400 too: no store or log downstream has to cope with it.

Cheap on the hot path: the allowed names are computed once per route at start-up and the
route's own ASGI app is wrapped, so no request walks the routes; a request without a query
string costs one attribute look-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problems import PROBLEM_JSON

#: Set on a wrapped route app, so starting an app twice never wraps it twice.
_GUARDED = "_ddk_query_guard"


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameter names a route takes, its dependencies' (and query models') too."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            names.update(_wire_names(field))
        pending.extend(current.dependencies)
    return frozenset(names)


def _wire_names(field: Any) -> Iterable[str]:
    model = _query_model(field.field_info.annotation)
    if model is None:
        yield field.alias
        return
    # `Annotated[SomeModel, Query()]`: the model's fields are the parameters.
    for name, info in model.model_fields.items():
        yield info.alias or name
        if isinstance(info.validation_alias, str):
            yield info.validation_alias


def _query_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


class QueryGuard:
    """A route's ASGI app behind a check of its query string against the declared names."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed
        setattr(self, _GUARDED, True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string")
        if query:
            problem = self.refusal(query)
            if problem is not None:
                problem["instance"] = scope.get("path", "")
                await JSONResponse(problem, status_code=400, media_type=PROBLEM_JSON)(
                    scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, query: bytes) -> dict[str, Any] | None:
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True,
                              errors="strict")
        except UnicodeDecodeError:
            return _problem("a query parameter is not UTF-8 text", [
                {"name": "query", "code": "invalid_encoding",
                 "reason": "percent-encode query parameters as UTF-8"}])
        invalid: dict[str, dict[str, str]] = {}
        for name, value in pairs:
            key = "query." + name
            if name not in self.allowed:
                invalid.setdefault(key, {
                    "name": key, "code": "unknown_parameter",
                    "reason": "this operation takes no such query parameter; it takes: "
                              + (", ".join(sorted(self.allowed)) or "none")})
            elif "\x00" in value:
                invalid.setdefault(key, {"name": key, "code": "nul_byte",
                                         "reason": "a NUL byte is not allowed"})
        if not invalid:
            return None
        unknown = sorted(p["name"][len("query."):] for p in invalid.values()
                         if p["code"] == "unknown_parameter")
        detail = (f"unknown query parameter(s): {', '.join(_printable(n) for n in unknown)}"
                  if unknown else "a query parameter holds a NUL byte")
        return _problem(detail, [{**p, "name": _printable(p["name"])}
                                 for p in invalid.values()])


def _printable(name: str) -> str:
    """A parameter name as it goes back in the problem: control characters escaped."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def _problem(detail: str, invalid: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Invalid input", "status": 400, "detail": detail,
            "invalidParams": invalid}


def guard_query_params(app: FastAPI) -> None:
    """Wrap every route of `app` (API routes, and the plain ones such as the OpenAPI
    document, which take no parameters) in a QueryGuard; idempotent."""
    for route in app.router.routes:
        if not isinstance(route, Route) or getattr(route.app, _GUARDED, False):
            continue
        allowed = (declared_query_names(route.dependant) if isinstance(route, APIRoute)
                   else frozenset())
        route.app = QueryGuard(route.app, allowed)
