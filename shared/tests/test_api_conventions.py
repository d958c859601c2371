"""API conventions: problem+json for bad input naming every field, headers, health, OpenAPI."""

import re
import uuid

import pytest

from shared.tests.conftest import running
from tests.apps import runtime_of, serve


@pytest.fixture
async def client(testsvc_settings):
    async with running(testsvc_settings(relay_enabled=False, consumer_enabled=False)) as c:
        yield c


def good_body():
    return {"id": str(uuid.uuid4()), "area": "BU03630001", "count": 1, "label": "x"}


async def outbox_rows(client):
    async with runtime_of(client).sessions() as s:
        from sqlalchemy import func, select

        from shared.tests.testapp import Note, Outbox
        return (await s.scalar(select(func.count()).select_from(Outbox)),
                await s.scalar(select(func.count()).select_from(Note)))


async def test_every_invalid_field_is_named_in_one_400(client, auth):
    body = {"id": "not-a-uuid", "area": "XX", "count": -1, "label": "y" * 50, "extra": 1}
    r = await client.post("/v1/notes", json=body, headers=auth("field-worker"))
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    names = {p["name"] for p in problem["invalidParams"]}
    assert names == {"body.id", "body.area", "body.count", "body.label", "body.extra"}
    assert await outbox_rows(client) == (0, 0)


async def test_missing_fields_and_wrong_types(client, auth):
    r = await client.post("/v1/notes", json={"count": "many"}, headers=auth("field-worker"))
    assert r.status_code == 400
    names = {p["name"] for p in r.json()["invalidParams"]}
    assert names == {"body.id", "body.area", "body.count", "body.label"}


async def test_malformed_json_is_a_400_problem(client, auth):
    r = await client.post("/v1/notes", content=b'{"id": ', headers={
        **auth("field-worker"), "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["invalidParams"][0]["code"] == "json_invalid"
    assert await outbox_rows(client) == (0, 0)


async def test_good_input_stores_the_row_and_its_event_together(client, auth):
    r = await client.post("/v1/notes", json=good_body(), headers=auth("field-worker"))
    assert r.status_code == 201
    assert await outbox_rows(client) == (1, 1)


async def test_headers_on_every_response(client):
    for path in ("/livez", "/v1/openapi.json", "/v1/nothing-here"):
        r = await client.get(path)
        assert r.headers["API-Version"] == "1.0.0"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Request-ID"]
    r = await client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_oversized_body_is_refused(client, auth):
    r = await client.post("/v1/notes", content=b"x" * (5 * 1024 * 1024), headers={
        **auth("field-worker"), "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["status"] == 413


async def test_openapi_is_public_and_conforms(client):
    spec = (await client.get("/v1/openapi.json")).json()
    assert spec["info"]["contact"]["email"]
    assert spec["servers"] == [{"url": "/v1", "description": "This service, major version 1"}]
    post = spec["paths"]["/notes"]["post"]
    assert "400" in post["responses"] and "422" not in post["responses"]
    assert "API-Version" in post["responses"]["201"]["headers"]
    assert "application/problem+json" in post["responses"]["401"]["content"]


async def test_health_and_metrics_are_anonymous(client):
    assert (await client.get("/livez")).json() == {"status": "up"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "up"
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text


async def test_rate_limit_per_client(testsvc_settings, auth):
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                rate_limit_per_second=1, rate_limit_burst=3)
    async with running(settings) as client:
        mine, other = auth("admin"), auth("admin", sub="someone-else")
        codes = [(await client.get("/v1/applied-count", headers=mine)).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await client.get("/v1/applied-count", headers=mine)
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 429
        ok = await client.get("/v1/applied-count", headers=other)  # another client's budget
        assert ok.status_code == 200 and ok.headers["RateLimit-Limit"] == "3"
        assert (await client.get("/livez")).status_code == 200  # probes are never limited


async def test_rate_limit_keys_on_the_verified_principal_not_the_header(testsvc_settings, token):
    """Spaces around a token (or another token of the same person) are no fresh budget."""
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                rate_limit_per_second=1, rate_limit_burst=3)
    async with running(settings) as client:
        same_person = [token("admin", "demo-corp-a", "u1") for _ in range(2)]
        headers = [f"Bearer {same_person[0]}", f"Bearer  {same_person[0]}",
                   f"Bearer {same_person[1]}", f"bearer   {same_person[0]} "]
        codes = [(await client.get("/v1/applied-count", headers={"Authorization": h})
                  ).status_code for h in headers]
        assert codes == [200, 200, 200, 429]
        other_org = {"Authorization": f"Bearer {token('admin', 'demo-corp-b', 'u1')}"}
        assert (await client.get("/v1/applied-count", headers=other_org)).status_code == 200


async def test_invalid_tokens_are_limited_per_address(testsvc_settings, token):
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                rate_limit_per_second=1, rate_limit_burst=3)
    async with running(settings) as client:
        forged = token("admin", "demo-corp-a", "u1")[:-6] + "AAAAAA"
        attempts = [{"Authorization": f"Bearer {forged}{i}"} for i in range(3)]
        attempts += [{"Authorization": "Bearer not.a.jwt"}, {}]
        codes = [(await client.get("/v1/applied-count", headers=h)).status_code
                 for h in attempts]
        assert codes == [401, 401, 401, 429, 429]
        # A verified person has a budget of their own, also from that address.
        valid = {"Authorization": f"Bearer {token('admin', 'demo-corp-a', 'u1')}"}
        assert (await client.get("/v1/applied-count", headers=valid)).status_code == 200


@pytest.mark.parametrize("service", ["signals", "indicators", "funding"])
def test_routes_added_flat_build_the_app_that_include_router_builds(service, monkeypatch):
    """`include_flat` (routes on the app itself, for speed) serves the same operations and
    documents them identically to FastAPI's own `include_router`."""
    import importlib

    from fastapi.routing import APIRoute

    from shared import api

    build = importlib.import_module(f"services.{service}.app").build
    flat = build()
    monkeypatch.setattr(api, "include_flat",
                        lambda app, router, prefix="": app.include_router(router, prefix=prefix))
    nested = build()

    def included(app):
        return [r for r in app.routes if type(r).__name__ == "_IncludedRouter"]

    assert not included(flat) and len(included(nested)) >= 3
    assert len([r for r in flat.routes if isinstance(r, APIRoute)]) > 5
    assert flat.openapi() == nested.openapi()


@pytest.mark.parametrize("service", ["signals", "indicators", "funding", "console"])
def test_a_route_served_plainly_comes_first_and_no_other_takes_its_paths(service):
    """Routes of `fast_params` are tried first (shared.fastpath): that changes nothing only
    where no other route matches their paths. A path made from each such route's template
    is matched in full by that route alone."""
    import importlib

    from starlette.routing import Match

    from shared.fastpath import declared_handlers

    app = importlib.import_module(f"services.{service}.app").build()
    with declared_handlers(app) as served:
        pass
    plain = app.router.routes[:served]
    assert all(hasattr(getattr(r.app, "app", r.app), "declared") for r in plain)
    for route in plain:
        path = re.sub(r"{[^}]+}", "BU03440101", route.path)
        for method in route.methods:
            scope = {"type": "http", "method": method, "path": path, "root_path": "",
                     "headers": [], "query_string": b""}
            full = [other for other in app.router.routes
                    if other.matches(scope)[0] is Match.FULL]
            assert full == [route], (path, method, full)
    assert service != "indicators" or {r.path for r in plain} == {
        "/v1/areas/{code}/indicators", "/v1/indicators"}


@pytest.mark.parametrize(("path", "allow"), [
    ("/v1/signals", "GET, POST"),
    ("/v1/signals/batch", "POST"),  # not GET: `{signalId}` would take "batch", the document not
    ("/v1/signals/0b6f3c8e-5d3a-4f0e-9a57-2c1d8e4b7a10", "GET"),  # fixed: same ids in each worker
    ("/v1/categories", "GET"),
])
async def test_405_allows_the_methods_the_document_lists_for_the_resource(
        path, allow, start_service, tmp_path):
    async with start_service(
            "signals", relay_enabled=False, access_log_checkpoint_interval_s=0,
            purge_interval_s=0, dev_keys_file=str(tmp_path / "keys.json")) as client:
        r = await client.request("DELETE", path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
async def test_an_unhandled_error_logs_its_route_and_class_never_the_path_or_message(
        testsvc_settings, as_json):
    """The path and the exception's message may hold identifiers or personal data."""
    import io
    import logging

    from shared.tests import testapp

    marker = "Kerkstraat-12-MARKER"
    app = testapp.build(testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                         log_json=as_json, log_level="INFO"))

    async def boom(resident: str, note: str | None = None) -> None:
        """Fail the way a bug does: with the request's data in the message and the locals."""
        address = f"{resident} woont hier"  # noqa: F841 (a local that must stay out of logs)
        raise ValueError(f"cannot handle {resident}")

    app.add_api_route("/v1/residents/{resident}", boom, methods=["GET"])
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().addHandler(handler)
    try:
        async with serve(app) as client:
            try:
                r = await client.get(f"/v1/residents/{marker}?note={marker}")
                status = r.status_code
            except ValueError:
                # Starlette re-raises after the 500 so that the server logs it; this is the
                # record uvicorn writes then.
                logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
                status = 500
    finally:
        logging.getLogger().removeHandler(handler)
    logged = lines.getvalue()
    assert status == 500
    assert "/v1/residents/{resident}" in logged
    assert "ValueError" in logged
    assert marker not in logged, logged
