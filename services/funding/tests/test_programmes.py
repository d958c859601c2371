"""Programmes: validation, creation, replay, roles and the demo programme."""

from typing import Any

import pytest

from services.funding.demo import DEMO_ACTOR, DEMO_NAME, load_demo
from services.funding.tests.kafka_helpers import SyntheticWorld
from shared.db import create_engine, sessionmaker


def bad_programme() -> dict[str, Any]:
    body = SyntheticWorld().programme()
    pool = body["pools"][0]
    pool["annualAmountCents"] = -5
    pool["allocationLevel"] = "province"
    pool["themes"][0]["share"] = "0.5"
    pool["formula"]["need"]["indicator"] = "no-such-indicator"
    body["pools"][1]["annualAmountCents"] = 12.5
    return body


async def test_validation_lists_every_invalid_field(start_service, auth):
    async with start_service("funding", consumer_enabled=False, relay_enabled=False) as client:
        r = await client.post("/v1/programmes", json=bad_programme(),
                              headers=auth("programme-officer"))
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        names = {p["name"] for p in r.json()["invalidParams"]}
        assert {"body.pools.0.annualAmountCents", "body.pools.0.allocationLevel",
                "body.pools.0.themes", "body.pools.0.formula.need.indicator",
                "body.pools.1.annualAmountCents"} <= names, names


async def test_create_list_get_replay_and_roles(start_service, auth):
    async with start_service("funding", consumer_enabled=False, relay_enabled=False) as client:
        body = SyntheticWorld().programme()
        officer = auth("programme-officer", sub="olga")
        assert (await client.post("/v1/programmes", json=body,
                                  headers=auth("analyst"))).status_code == 403
        r = await client.post("/v1/programmes", json=body, headers=officer)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["annualTotalCents"] == 1_000_000_01 + 333_333_33
        assert (created["organisation"], created["poolsEditedBy"]) == ("demo-corp-a", "olga")
        assert r.headers["Location"] == f"/v1/programmes/{created['id']}"
        again = await client.post("/v1/programmes", json=body, headers=officer)
        assert again.status_code == 200 and again.json()["id"] == created["id"]
        # The same body from another organisation is not a replay: the name is taken.
        assert (await client.post("/v1/programmes", json=body, headers=auth(
            "programme-officer", "demo-corp-b", sub="olga"))).status_code == 409
        changed = {**body, "lastYear": 2030}
        assert (await client.post("/v1/programmes", json=changed,
                                  headers=officer)).status_code == 409
        got = await client.get(f"/v1/programmes/{created['id']}", headers=auth("analyst"))
        assert got.status_code == 200 and got.json()["pools"][0]["themes"][2]["share"] == (
            "0.333334")
        listed = await client.get("/v1/programmes", headers=auth("programme-approver"))
        assert [p["id"] for p in listed.json()["items"]] == [created["id"]]
        history = await client.get(f"/v1/programmes/{created['id']}/history",
                                   headers=auth("analyst"))
        assert [e["action"] for e in history.json()["items"]] == ["programme-created"]
        assert history.json()["items"][0]["actor"] == "olga"


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_demo_programme_is_created_once(service_settings, start_service, auth):
    settings = service_settings("funding", consumer_enabled=False, relay_enabled=False)
    engine = create_engine(settings.sqlalchemy_url())
    try:
        await load_demo(sessionmaker(engine), settings)
        await load_demo(sessionmaker(engine), settings)
    finally:
        await engine.dispose()
    async with start_service("funding", database_url=settings.database_url,
                             consumer_enabled=False, relay_enabled=False) as client:
        r = await client.get("/v1/programmes", headers=auth("analyst"))
        programmes = r.json()["items"]
        assert [p["name"] for p in programmes] == [DEMO_NAME]
        # Owned by the demo municipality: its officers draft, its approvers approve.
        assert (programmes[0]["organisation"], programmes[0]["poolsEditedBy"]) == (
            "demo-municipality", DEMO_ACTOR)
        assert [p["annualAmountCents"] for p in programmes[0]["pools"]] == [
            400_000_000_00, 100_000_000_00]
        assert {t["code"] for t in programmes[0]["pools"][0]["themes"]} == {
            "education", "labour-market", "housing-quality", "safety"}


async def test_openapi_follows_the_conventions(start_service):
    async with start_service("funding", consumer_enabled=False, relay_enabled=False) as client:
        spec = (await client.get("/v1/openapi.json")).json()
        paths = spec["paths"]
        assert "/scenarios/{scenarioId}/compare/{otherScenarioId}" in paths
        assert "/scenarios/{scenarioId}/approval" in paths
        for item in paths.values():
            for operation in item.values():
                assert operation.get("summary") and operation.get("description") is not None
                for parameter in operation.get("parameters", []):
                    assert "-" not in parameter["name"] or parameter["in"] == "header"
        for name, schema in spec["components"]["schemas"].items():
            for field, prop in schema.get("properties", {}).items():
                assert not (field.endswith("Date") and prop.get("format") == "date-time"), field


async def test_programmes_come_in_pages_of_items(start_service, auth):
    async with start_service("funding", consumer_enabled=False, relay_enabled=False) as client:
        officer, analyst = auth("programme-officer"), auth("analyst")
        for name in ("een", "twee", "drie"):
            r = await client.post("/v1/programmes", json={**SyntheticWorld().programme(),
                                                          "name": name}, headers=officer)
            assert r.status_code == 201, r.text
        seen, cursor = [], None
        while True:
            r = await client.get("/v1/programmes", params={"limit": 2, **(
                {"cursor": cursor} if cursor else {})}, headers=analyst)
            assert r.status_code == 200, r.text
            seen += [p["name"] for p in r.json()["items"]]
            cursor = r.json()["nextCursor"]
            if cursor is None:
                break
        assert seen == ["een", "twee", "drie"]
        r = await client.get("/v1/programmes", params={"cursor": "nonsense"}, headers=analyst)
        assert r.status_code == 400 and r.json()["invalidParams"][0]["name"] == "query.cursor"


def test_programmes_do_not_reach_into_scenarios() -> None:
    """Programmes come first: scenarios build on them, never the other way round."""
    import ast
    from pathlib import Path

    folder = Path(__file__).parents[1] / "programmes"
    for module in folder.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("services.funding.scenarios"), module.name
