"""The speed-ups of shared.fastpath fail these tests when what they lean on changes."""

from __future__ import annotations

import gc
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from starlette.types import Scope

from shared.fastpath import (
    FLAT_COPIED,
    FLAT_SET_HERE,
    LARGE_HEAP_THRESHOLDS,
    api_route_parameters,
    declared_handlers,
    fast_params,
    freeze_held_objects,
    freeze_startup_objects,
    include_flat,
    plain_query,
    untracked_rows,
)


def test_include_flat_passes_on_every_parameter_of_api_route():
    """A parameter FastAPI adds to APIRoute.__init__ would otherwise be dropped silently
    from every route: copy it in include_flat (FLAT_COPIED), then adjust this test."""
    assert api_route_parameters() == set(FLAT_COPIED) | set(FLAT_SET_HERE)


def test_objects_of_start_up_are_frozen():
    before = gc.get_freeze_count()
    freeze_startup_objects()
    try:
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_held_objects_are_frozen():
    before = gc.get_freeze_count()
    held = [{"cell": i} for i in range(1000)]
    freeze_held_objects()
    try:
        assert gc.get_freeze_count() >= before + len(held)
    finally:
        gc.unfreeze()


def test_rows_of_numbers_and_strings_are_let_go_of_by_the_collector():
    rows = untracked_rows(b'[[1.5, null], [null, "small-count"], [3, "x"]]')
    assert rows == ((1.5, None), (None, "small-count"), (3, "x"))
    for _ in range(3):  # nested tuples are let go of a level per collection at worst
        gc.collect()
    assert not any(gc.is_tracked(r) for r in (rows, *rows))


def test_a_growing_heap_is_collected_in_full_far_less_often():
    def full_collections(thresholds: tuple[int, int, int]) -> int:
        seen: list[int] = []

        def count(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 2:
                seen.append(1)

        kept = gc.get_threshold()
        # The test process's own heap frozen: CPython skips a full collection while fewer
        # objects await one than a quarter of the old generation, which would make the
        # count depend on how many tests ran before this one.
        gc.freeze()
        gc.collect()
        gc.set_threshold(*thresholds)
        gc.callbacks.append(count)
        try:
            held = [[i] for i in range(600_000)]  # containers the collector walks, kept
            assert len(held) == 600_000
        finally:
            gc.callbacks.remove(count)
            gc.set_threshold(*kept)
            gc.unfreeze()
        return len(seen)

    assert full_collections((700, 10, 10)) >= 3  # CPython's defaults
    assert full_collections(LARGE_HEAP_THRESHOLDS) == 0



async def test_plainly_valid_reads_skip_fastapis_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """fast_params leans on Starlette calling a route's `app`: a plainly valid request never
    reaches FastAPI's request handler (its parameter solving), and anything else does, and
    is answered as declared."""
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies  # type: ignore[attr-defined]

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append("solved")
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)

    def read(scope: Scope) -> dict[str, Any] | None:
        query = plain_query(scope, ("n",))
        n = None if query is None else query.get("n", "1")
        return {"n": int(n)} if n is not None and n.isascii() and n.isdigit() else None

    router = APIRouter()

    @router.get("/twice")
    @fast_params(read)
    async def twice(request: Request, n: Annotated[int, Query(ge=0)] = 1) -> Response:
        return Response(str(2 * n).encode())

    app = FastAPI()
    include_flat(app, router, prefix="/v1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        for query, status, body in (("", 200, b"2"), ("?n=21", 200, b"42")):
            r = await client.get("/v1/twice" + query)
            assert (r.status_code, r.content) == (status, body), query
        assert solved == []
        r = await client.get("/v1/twice?n=-1")  # not plain: FastAPI checks it, as declared
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "n"]
        r = await client.get("/v1/twice?n=2&n=3")  # a repeated name: FastAPI takes the last
        assert r.content == b"6"
        assert solved == ["solved", "solved"]
        with declared_handlers(app) as served:
            assert served == 1
            assert (await client.get("/v1/twice?n=4")).content == b"8"
            assert len(solved) == 3


def test_a_route_with_a_dependency_is_not_served_plainly() -> None:
    """A dependency (a check of the caller, say) would be skipped for every plainly valid
    request: include_flat refuses such a route, and one with a header parameter."""

    def deny() -> None:
        raise AssertionError("never reached")

    def read(scope: Scope) -> dict[str, Any] | None:
        return {}

    guarded = APIRouter(dependencies=[Depends(deny)])

    @guarded.get("/secret")
    @fast_params(read)
    async def secret(request: Request) -> Response:
        return Response(b"secret")

    headed = APIRouter()

    @headed.get("/kind")
    @fast_params(read)
    async def kind(request: Request, x_kind: Annotated[str, Header()] = "") -> Response:
        return Response(x_kind.encode())

    for router in (guarded, headed):
        with pytest.raises(TypeError, match="without dependencies"):
            include_flat(FastAPI(), router, prefix="/v1")
