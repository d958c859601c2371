"""Speed-ups that lean on FastAPI's or CPython's internals.

Each is kept because an alternating `make bench` run (`python -m benchmarks.ab`, figures and
method in docs/benchmarks.md) showed it buys at least 5 % on its scenario; each has a test in
shared/tests/test_fastpath.py that fails when what it leans on changes (and
test_api_conventions checks that `include_flat` builds the app `include_router` builds).
"""

from __future__ import annotations

import gc
import inspect

import orjson
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

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
