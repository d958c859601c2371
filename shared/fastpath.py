"""Speed-ups that lean on FastAPI's or CPython's internals.

Each is kept because an alternating `make bench` run (`python -m benchmarks.ab`, figures and
method in docs/benchmarks.md) showed it buys at least 5 % on its scenario; each has a test in
shared/tests/test_fastpath.py that fails when what it leans on changes (and
test_api_conventions checks that `include_flat` builds the app `include_router` builds).
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

# The parameters of APIRoute.__init__ that include_flat passes on from a route, by name, and
# those it sets itself or that an APIRoute does not keep.
FLAT_COPIED = (
    "response_model", "status_code", "tags", "dependencies", "summary", "description",
    "response_description", "responses", "deprecated", "name", "methods", "operation_id",
    "response_model_include", "response_model_exclude", "response_model_by_alias",
    "response_model_exclude_unset", "response_model_exclude_defaults",
    "response_model_exclude_none", "include_in_schema", "response_class", "callbacks",
    "openapi_extra", "generate_unique_id_function", "strict_content_type")
FLAT_SET_HERE = ("self", "path", "endpoint", "dependency_overrides_provider")


def include_flat(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    """`app.include_router`, with each route added to the app itself.

    Buys, on the single POST (signal-single), measured 2026-12-04 against FastAPI's own
    `include_router` in 7 alternating rounds: without it a request cost 6 % more server CPU
    relative to hello-world; with it throughput was 6 to 62 % higher (medians of two passes).

    An included router stays a node of its own that every request resolves twice (does it
    match, then which route), re-walking the router tree each time. Our routers carry no
    include-time options, so adding each route anew with its own attributes builds the same
    app and the same OpenAPI document. Leans on: the parameters of `APIRoute.__init__`
    being those in FLAT_COPIED and FLAT_SET_HERE; a test fails when FastAPI adds one.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"include_flat takes API routes only, not {route!r}")
        copied = {name: getattr(route, name) for name in FLAT_COPIED}
        app.router.add_api_route(prefix + route.path, route.endpoint,
                                 route_class_override=type(route), **copied)
        added = app.router.routes[-1]
        parse = getattr(route.endpoint, FAST_PARAMS, None)
        if parse is not None and isinstance(added, APIRoute):
            _serve_plain_requests(added, parse)
            # Matched first: the router tries its routes in turn, and these are the busiest.
            app.router.routes.insert(0, app.router.routes.pop())


def api_route_parameters() -> set[str]:
    """The parameters of `APIRoute.__init__` as this FastAPI has them."""
    return set(inspect.signature(APIRoute.__init__).parameters)


def freeze_startup_objects() -> None:
    """Move what start-up built out of the garbage collector's reach.

    Buys, on the single POST (signal-single), measured 2026-12-04 against no freeze in 4
    alternating rounds: without it a request cost 6 % more server CPU relative to
    hello-world; with it the p99 was 390 instead of 644 ms and throughput 46 % higher
    (medians, on a heavily loaded machine).

    Modules, mappers, schemas and compiled queries live as long as the process; frozen
    (`gc.freeze`), the collector's full collections no longer walk them. Leans on: CPython's
    permanent generation; a test checks that objects are frozen after start-up.
    """
    gc.collect()
    gc.freeze()


def freeze_held_objects() -> None:
    """Move what a long-lived holder has just built out of the garbage collector's reach:
    the snapshot worker's periods (millions of counts and cells) after a build and after
    each protection it takes in.

    Buys, on the snapshot worker alone at national scale under 200 signals/s (14,000
    buurten, 1M facts), measured 2026-12-04 in 2 alternating runs of 30 s: the longest
    full collection 82 instead of 1,097 ms, the slowest round 424 instead of 1,288 ms, and
    a signal's raw count stored within 808 instead of 1,314 ms (the slowest of ~60 probes).

    A full collection walks every tracked object; the held periods are most of them, and
    they hold no reference cycles (their replaced parts are freed by reference counting,
    frozen or not). The young generations are collected first, so that recent cyclic
    garbage is not frozen with them. Leans on: CPython's permanent generation; a test
    checks that objects are frozen.
    """
    gc.collect(1)
    gc.freeze()


def untracked_rows(text: str | bytes) -> tuple[tuple[object, ...], ...]:
    """A JSON array of arrays of numbers, strings and nulls, as tuples of tuples.

    Buys, on indicators-national (area reads under 200 signals/s), measured 2026-12-04 in
    alternating runs: see docs/benchmarks.md ("Garbage collection at national scale").

    An API reader keeps the parsed cells of every area read (24 pairs per area, 10,000
    areas and more): as JSON's lists they were 250,000 containers that each full collection
    walked with the event loop held (150-250 ms). Leans on: CPython no longer tracking a
    tuple that holds only untracked objects (numbers, strings, None, such tuples), a level
    per collection at worst; a test checks that they are let go of.
    """
    return tuple(map(tuple, orjson.loads(text)))


#: The collector's thresholds in a process that holds a large heap. A full collection (which
#: walks all that is not frozen) comes after 5 million allocations instead of 70,000; the
#: young ones stay short (at most 10,000 and 50,000 objects, 5-25 ms).
LARGE_HEAP_THRESHOLDS = (10_000, 5, 100)


def collect_less_often() -> None:
    """Fewer full collections in a process that holds a large heap and makes many objects:
    the snapshot worker (a protection makes 150,000 cells) and the indicators API (its
    readers' stored areas).

    Buys, on indicators-national, measured 2026-12-04 in alternating runs: see
    docs/benchmarks.md ("Garbage collection at national scale").

    Leans on: CPython's generational collector, whose full collections follow from the
    count of young ones (Python 3.14's incremental collector reads these thresholds
    otherwise); a test checks that full collections become rarer.
    """
    gc.set_threshold(*LARGE_HEAP_THRESHOLDS)


#: Reads the parameters of a request that are plainly valid, or None (see `fast_params`).
ParamsReader = Callable[[Scope], dict[str, Any] | None]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
FAST_PARAMS = "fast_params"  # the attribute `fast_params` sets on an endpoint
_READ = "fastpath.params"  # where a read request's parameters wait for the endpoint


def fast_params(read: ParamsReader) -> Callable[[Endpoint], Endpoint]:
    """Serve a busy read's plainly valid requests without FastAPI's request handler.

    Buys, on indicators-reads (an area's indicators, a ranking's first page), measured
    2026-12-05 in alternating rounds: see docs/benchmarks.md ("Reads without FastAPI's
    request handler").

    For an endpoint declared as usual (its parameters and their limits, which the OpenAPI
    document, the query guard and the 400 problems come from) that returns a Response
    itself and has query and path parameters only, no dependencies (include_flat refuses
    a route with any): `read` takes the request's scope and gives the endpoint's keyword
    arguments (all but `request`) when every parameter is plainly valid, checked at least
    as strictly as the declaration; include_flat then calls the endpoint with them
    directly. Anything `read` does not accept (None, or an exception) goes to FastAPI's
    handler as declared, so a bad request gets the same 400 problem as ever. Skipping
    FastAPI's handler (its parameter solving, the exit stacks of dependencies with yield)
    took 29 % off the server CPU of these reads. Such a route is also put first among the app's
    routes (the router tries them in turn): its path must be one no other route's matches,
    which a test checks for every service.

    Leans on: Starlette calling a route's `app` to handle it (QueryGuard wraps it there
    too); a test fails when a valid request reaches FastAPI's handler, and another that
    the two ways answer alike.
    """
    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, FAST_PARAMS, read)
        return endpoint
    return mark


def plain_query(scope: Scope, names: Collection[str]) -> dict[str, str] | None:
    """The query as one value per name, when it names only `names`, each at most once
    (else None: FastAPI's handler decides what repeated or unknown names mean)."""
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    query: dict[str, str] = {}
    for name, value in QueryParams(raw).multi_items():
        if name not in names or name in query:
            return None
        query[name] = value
    return query


def _serve_plain_requests(route: APIRoute, read: ParamsReader) -> None:
    dependant = route.dependant
    if dependant.dependencies or dependant.header_params or dependant.cookie_params \
            or dependant.body_params:
        # Skipped on the plain way: a dependency there (a check of the caller, say)
        # would be bypassed for every plainly valid request.
        raise TypeError(f"{route.path}: fast_params serves routes of query and path "
                        "parameters only, without dependencies")
    declared = route.app
    endpoint = route.endpoint

    async def call(request: Request) -> Any:
        return await endpoint(request, **request.scope.pop(_READ))

    plain = request_response(call)  # the app's exception handlers answer its problems

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            params = read(scope)
        except Exception:  # noqa: BLE001 (what the reader cannot read, the declaration judges)
            params = None
        if params is None:
            await declared(scope, receive, send)
            return
        scope[_READ] = params
        await plain(scope, receive, send)

    app.declared = declared  # type: ignore[attr-defined]  # tests compare the two
    route.app = app


@contextmanager
def declared_handlers(app: FastAPI) -> Iterator[int]:
    """(For tests) Every route of `fast_params` served by FastAPI's handler alone, as
    declared, while inside; gives how many such routes there are."""
    swapped: list[tuple[Any, ASGIApp]] = []
    for route in app.router.routes:
        holder: Any = route
        inner = getattr(route, "app", None)
        while inner is not None and not hasattr(inner, "declared"):
            holder, inner = inner, getattr(inner, "app", None)  # through the QueryGuard
        if inner is not None:
            swapped.append((holder, inner))
            holder.app = inner.declared
    try:
        yield len(swapped)
    finally:
        for holder, fast in swapped:
            holder.app = fast
