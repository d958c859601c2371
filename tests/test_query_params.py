"""Unknown query parameters are a 400 naming every one, on every service and every route."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from shared.query_params import QueryGuard, declared_query_names, guard_query_params
from tools import registry

# service -> (a list route, the role and organisation that may read it, a declared param)
READS = {
    "signals": ("/v1/signals", "field-worker", "demo-corp-a", "limit=5"),
    "indicators": ("/v1/areas", "analyst", "demo-municipality", "limit=5"),
    "funding": ("/v1/programmes", "analyst", "demo-municipality", "limit=5"),
}


@pytest.mark.parametrize("service", list(READS))
async def test_unknown_query_parameters_are_a_400_naming_each(start_service, auth, service):
    path, role, org, known = READS[service]
    headers = auth(role, org)
    async with start_service(service, relay_enabled=False, consumer_enabled=False) as client:
        ok = await client.get(f"{path}?{known}", headers=headers)
        assert ok.status_code == 200, ok.text

        r = await client.get(f"{path}?{known}&stauts=open&Limit=3&stauts=x", headers=headers)
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        names = [p["name"] for p in problem["invalidParams"]]
        assert sorted(names) == ["query.Limit", "query.stauts"]  # each once, case matters
        assert {p["code"] for p in problem["invalidParams"]} == {"unknown_parameter"}
        assert "Limit, stauts" in problem["detail"]
        assert problem["instance"] == path

        # The same without a token: refused for the parameter, nothing of the route ran.
        assert (await client.get(f"{path}?x=1")).status_code == 400

        nul = await client.get(f"{path}?limit=5%00", headers=headers)
        assert nul.status_code == 400
        assert nul.json()["invalidParams"][0]["code"] == "nul_byte"
        bad_utf8 = await client.get(f"{path}?limit=%ff", headers=headers)
        assert bad_utf8.status_code == 400

        # Plain routes take no parameters either: the OpenAPI document.
        doc = await client.get("/v1/openapi.json?format=yaml")
        assert doc.status_code == 400
        assert doc.json()["invalidParams"][0]["name"] == "query.format"


async def test_the_change_feed_parameter_still_works(start_service, auth):
    async with start_service("signals", relay_enabled=False, consumer_enabled=False) as client:
        r = await client.get("/v1/signals?changedSince=0&limit=10",
                             headers=auth("field-worker", "demo-corp-a", sub="u1"))
        assert r.status_code == 200, r.text
        assert "nextCursor" in r.json()


@pytest.mark.parametrize("service", list(READS))
def test_every_declared_parameter_of_every_route_is_accepted(service_settings, service):
    """Walk the built app: each route's guard takes all it declares, and only that."""
    svc = registry.service(service)
    app = svc.build(service_settings(service))
    guarded = 0
    for route in app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        guard = route.app
        assert isinstance(guard, QueryGuard), route.path
        declared = {f.alias for f in route.dependant.query_params}
        assert declared <= guard.allowed, route.path
        query = urlencode([(name, "1") for name in sorted(guard.allowed)]).encode()
        assert guard.refusal(query) is None, route.path
        assert guard.refusal(query + b"&zz-unknown=1") is not None, route.path
        guarded += 1
    assert guarded >= 3


class Window(BaseModel):
    since: str | None = None
    until: str | None = Field(default=None, alias="untilDate")


def paging(cursor: str | None = None,
           page_size: Annotated[int, Query(alias="pageSize")] = 10) -> None:
    return None


def things(_: Annotated[None, Depends(paging)], window: Annotated[Window, Query()],
           q: str | None = None) -> None:
    return None


def test_parameters_declared_by_dependencies_and_query_models_count():
    app = FastAPI()
    app.get("/things")(things)
    guard_query_params(app)
    guard_query_params(app)  # idempotent
    route = next(r for r in app.router.routes if isinstance(r, APIRoute))
    assert declared_query_names(route.dependant) == {"q", "cursor", "pageSize", "since",
                                                     "untilDate"}
    assert isinstance(route.app, QueryGuard) and not isinstance(route.app.app, QueryGuard)


@pytest.mark.parametrize("service", list(READS))
async def test_every_operation_documents_the_400(start_service, service):
    async with start_service(service, relay_enabled=False, consumer_enabled=False) as client:
        doc = (await client.get("/v1/openapi.json")).json()
    missing = [f"{method} {path}" for path, item in doc["paths"].items()
               for method, operation in item.items() if "400" not in operation["responses"]]
    assert missing == []
