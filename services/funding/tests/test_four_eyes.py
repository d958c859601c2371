"""Four eyes that hold: the exact ETag, an approval conditional on that version, approvers of
the programme's organisation who neither drafted nor wrote its formula, and pinned inputs and
overrides shown and recorded with the approval. Races run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.funding.scenarios import repository
from services.funding.tests.kafka_helpers import SyntheticWorld
from services.funding.tests.test_scenarios import loaded

ORG, OTHER_ORG = "demo-corp-a", "demo-corp-b"
BOTH = pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)


@contextlib.asynccontextmanager
async def funding(start_service, auth, broker) -> AsyncIterator[tuple[Any, SyntheticWorld]]:
    """The service with a world of areas and indicators received over the broker."""
    world = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world)
        yield client, world


async def new_programme(client, auth, world: SyntheticWorld, sub: str = "fiona",
                        org: str = ORG) -> str:
    r = await client.post("/v1/programmes", json=world.programme(),
                          headers=auth("programme-officer", org, sub=sub))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def new_draft(client, auth, programme_id: str, sub: str = "olga",
                    **extra: Any) -> tuple[str, str]:
    """(scenario url, its ETag)."""
    r = await client.post(f"/v1/programmes/{programme_id}/scenarios",
                          json={"name": "draft", **extra},
                          headers=auth("programme-officer", ORG, sub=sub))
    assert r.status_code == 201, r.text
    return f"/v1/scenarios/{r.json()['id']}", r.headers["ETag"]


def approver(auth, sub: str = "anna", org: str = ORG) -> dict[str, str]:
    return auth("programme-approver", org, sub=sub)


def editor(auth, sub: str = "pete") -> dict[str, str]:
    return auth("programme-officer", ORG, sub=sub)


async def test_if_match_star_is_refused(start_service, auth, broker):
    async with funding(start_service, auth, broker) as (client, world):
        url, _ = await new_draft(client, auth, await new_programme(client, auth, world))
        for header in ("*", " * "):
            r = await client.post(f"{url}/approval",
                                  headers={**approver(auth), "If-Match": header})
            assert r.status_code == 428, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert "ETag" in r.json()["detail"] and "*" in r.json()["detail"]
            assert r.json()["detail"].startswith("If-Match: * noemt geen versie")  # Dutch default
        assert (await client.get(url, headers=approver(auth))).json()["status"] == "draft"


@BOTH
async def test_approving_the_version_before_an_edit_is_412(start_service, auth, broker):
    async with funding(start_service, auth, broker) as (client, world):
        url, tag = await new_draft(client, auth, await new_programme(client, auth, world))
        r = await client.post(f"{url}/versions", json={}, headers=editor(auth))
        assert r.status_code == 201 and r.headers["ETag"] != tag
        r = await client.post(f"{url}/approval", headers={**approver(auth), "If-Match": tag})
        assert r.status_code == 412, r.text
        r = await client.post(f"{url}/approval", headers={
            **approver(auth), "If-Match": (await client.get(url, headers=approver(auth))
                                           ).headers["ETag"]})
        assert r.status_code == 200 and r.json()["approval"]["version"] == 2


class Gate:
    """Holds the next request that loads a scenario right after it has loaded it, so another
    request can run in between (the interleaving a busy server produces by chance)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        real = repository.get

        async def get(*args: Any, **kwargs: Any) -> Any:
            found = await real(*args, **kwargs)
            if self.armed:
                self.armed = False
                self.reached.set()
                await self.release.wait()
            return found

        monkeypatch.setattr(repository, "get", get)

    async def hold(self, request: Any) -> asyncio.Task[Any]:
        self.armed = True
        task = asyncio.ensure_future(request)
        await asyncio.wait_for(self.reached.wait(), 10)
        return task


@POSTGRESQL
async def test_an_approval_overtaken_by_an_edit_is_412(start_service, auth, broker,
                                                       monkeypatch):
    """The reported attack: approval of version 1 lands while an edit makes version 2."""
    gate = Gate(monkeypatch)
    async with funding(start_service, auth, broker) as (client, world):
        url, tag = await new_draft(client, auth, await new_programme(client, auth, world))
        approval = await gate.hold(client.post(f"{url}/approval",
                                               headers={**approver(auth), "If-Match": tag}))
        edited = await client.post(f"{url}/versions", json={}, headers=editor(auth))
        assert edited.status_code == 201, edited.text
        gate.release.set()
        r = await approval
        assert r.status_code == 412, r.text
        got = (await client.get(url, headers=approver(auth))).json()
        assert (got["status"], got["version"]) == ("draft", 2)


@POSTGRESQL
async def test_an_edit_overtaken_by_an_approval_does_not_change_it(start_service, auth,
                                                                  monkeypatch, broker):
    gate = Gate(monkeypatch)
    async with funding(start_service, auth, broker) as (client, world):
        url, tag = await new_draft(client, auth, await new_programme(client, auth, world))
        edit = await gate.hold(client.post(f"{url}/versions", json={}, headers=editor(auth)))
        approval = asyncio.ensure_future(client.post(
            f"{url}/approval", headers={**approver(auth), "If-Match": tag}))
        await asyncio.sleep(0.3)  # the approval runs (or waits for the edit's row lock)
        gate.release.set()
        edited, approved = await edit, await approval
        assert sorted([edited.status_code, approved.status_code]) in ([201, 412], [200, 409]), (
            edited.text, approved.text)
        got = (await client.get(url, headers=approver(auth))).json()
        if approved.status_code == 200:
            assert (got["status"], got["version"]) == ("approved", 1)
        else:
            assert (got["status"], got["version"]) == ("draft", 2)


@BOTH
async def test_concurrent_edit_and_approval_never_both_succeed(start_service, auth, broker):
    async with funding(start_service, auth, broker) as (client, world):
        programme_id = await new_programme(client, auth, world)
        outcomes = set()
        for _ in range(8):
            url, tag = await new_draft(client, auth, programme_id)
            edited, approved = await asyncio.gather(
                client.post(f"{url}/versions", json={}, headers=editor(auth)),
                client.post(f"{url}/approval", headers={**approver(auth), "If-Match": tag}))
            pair = (edited.status_code, approved.status_code)
            assert pair in {(201, 412), (409, 200)}, (pair, edited.text, approved.text)
            outcomes.add(pair)
            got = (await client.get(url, headers=approver(auth))).json()
            expected = ("approved", 1) if approved.status_code == 200 else ("draft", 2)
            assert (got["status"], got["version"]) == expected


async def test_the_author_of_the_programmes_formula_may_not_approve(start_service, auth,
                                                                    broker):
    async with funding(start_service, auth, broker) as (client, world):
        programme_id = await new_programme(client, auth, world, sub="fiona")
        url, tag = await new_draft(client, auth, programme_id, sub="olga")
        r = await client.post(f"{url}/approval",
                              headers={**approver(auth, sub="fiona"), "If-Match": tag})
        assert r.status_code == 403, r.text
        assert "vier ogen" in r.json()["detail"] and "formule" in r.json()["detail"]  # Dutch
        programme = (await client.get(f"/v1/programmes/{programme_id}",
                                      headers=auth("analyst", OTHER_ORG))).json()
        assert (programme["organisation"], programme["poolsEditedBy"]) == (ORG, "fiona")
        r = await client.post(f"{url}/approval", headers={**approver(auth), "If-Match": tag})
        assert r.status_code == 200, r.text


async def test_only_the_programmes_organisation_drafts_approves_and_publishes(
        start_service, auth, broker):
    async with funding(start_service, auth, broker) as (client, world):
        programme_id = await new_programme(client, auth, world)
        r = await client.post(f"/v1/programmes/{programme_id}/scenarios", json={"name": "x"},
                              headers=auth("programme-officer", OTHER_ORG, sub="otto"))
        assert r.status_code == 403, r.text
        url, tag = await new_draft(client, auth, programme_id)
        r = await client.post(f"{url}/versions", json={},
                              headers=auth("programme-officer", OTHER_ORG, sub="otto"))
        assert r.status_code == 403, r.text
        stranger = approver(auth, sub="sam", org=OTHER_ORG)
        r = await client.post(f"{url}/approval", headers={**stranger, "If-Match": tag})
        assert r.status_code == 403, r.text
        assert ORG in r.json()["detail"]
        r = await client.post(f"{url}/approval", headers={**approver(auth), "If-Match": tag})
        assert r.status_code == 200, r.text
        r = await client.post(f"{url}/publication",
                              headers={**stranger, "If-Match": r.headers["ETag"]})
        assert r.status_code == 403, r.text
        # Reading stays open to every reader: allocations are not personal data.
        r = await client.get(url, headers=auth("analyst", OTHER_ORG))
        assert r.status_code == 200 and r.json()["status"] == "approved"


async def test_pinned_values_and_overrides_are_shown_and_recorded(start_service, auth,
                                                                  broker):
    async with funding(start_service, auth, broker) as (client, world):
        programme_id = await new_programme(client, auth, world)
        invented = [{"areaCode": c, "compositeScore": "9.5", "compositeDecile": 10}
                    for w in (1, 2, 3) for c in world.buurten(w)]
        codes = [a["areaCode"] for a in invented]
        overrides = [{"pool": "focus", "floorCents": 100_00}]
        url, tag = await new_draft(client, auth, programme_id, snapshot=invented,
                                   overrides=overrides)
        shown = (await client.get(url, headers=approver(auth))).json()
        assert shown["pinned"] is True
        assert [(a["areaCode"], a["compositeScore"]) for a in shown["pinnedInputs"]] == [
            (c, "9.5") for c in codes]
        digest = shown["pinnedInputsDigest"]
        assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
        assert shown["overrides"][0]["floorCents"] == 100_00
        assert shown["approval"] is None

        r = await client.post(f"{url}/approval", headers={**approver(auth), "If-Match": tag})
        assert r.status_code == 200, r.text
        record = r.json()["approval"]
        assert record["approvedBy"] == "anna" and record["version"] == 1
        assert record["pinnedInputsDigest"] == digest
        assert record["pinnedAreaCodes"] == codes
        assert [{k: v for k, v in o.items() if v is not None} for o in record["overrides"]
                ] == overrides
        history = (await client.get(f"{url}/history", headers=auth("analyst"))).json()
        [approved] = [e for e in history["items"] if e["action"] == "scenario-approved"]
        assert approved["detail"]["pinnedInputsDigest"] == digest
        assert approved["detail"]["pinnedAreaCodes"] == codes
        assert approved["detail"]["overrides"] == record["overrides"]
        assert approved["detail"]["version"] == 1
        # An unpinned scenario says so: no inputs, no digest.
        plain_url, plain_tag = await new_draft(client, auth, programme_id)
        r = await client.post(f"{plain_url}/approval",
                              headers={**approver(auth), "If-Match": plain_tag})
        assert r.status_code == 200
        assert r.json()["pinnedInputs"] is None
        assert r.json()["approval"]["pinnedInputsDigest"] is None

