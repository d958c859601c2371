"""Retention purge and data-subject rights: personal data goes, the facts stay."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.signals.models import Outbox, Signal
from services.signals.retention.purge import purge_expired
from services.signals.tests.conftest import NOTE, create, db, move, names_the_postcode
from shared.contracts.signals import SIGNAL_RECORDED, SignalRecorded
from shared.db import utcnow
from tests.apps import runtime_of

REASON = "mevrouw belde terug: haar zoon is opgenomen"  # free text about a person


async def _close(client, auth, signal_id: str, days_ago: int) -> None:
    coord = auth("coordinator")
    assert (await move(client, signal_id, coord, "closed-no-action", reason=REASON,
                       outcome="no-contact")).status_code == 201
    async with db(client) as session:
        signal = await session.get(Signal, uuid.UUID(signal_id))
        signal.closed_at = utcnow() - timedelta(days=days_ago)


async def test_purge_follows_the_category_retention_clock(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        nuisance_old = await create(client, fw)  # nuisance: 730 days
        nuisance_young = await create(client, fw)
        other_old = await create(client, fw, category="other", subcategory=None)  # 180 days
        still_open = await create(client, fw)
        await _close(client, auth, nuisance_old["id"], 731)
        await _close(client, auth, nuisance_young["id"], 400)
        await _close(client, auth, other_old["id"], 181)
        async with db(client) as session:
            assert await purge_expired(session) == 2
        async with db(client) as session:
            assert await purge_expired(session) == 0  # idempotent

        async def read(s):
            return (await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                                     headers=fw)).json()

        gone = await read(nuisance_old)
        assert gone["personalDataRemoved"] is True
        assert gone["personalData"] == {"address": None, "unitRef": None, "note": None,
                                        "arrearsAmountCents": None, "arrearsSince": None}
        assert (gone["category"], gone["areaCode"], gone["status"]) == (
            "nuisance", "BU05990101", "closed-no-action")
        assert (await read(other_old))["personalDataRemoved"] is True
        assert (await read(nuisance_young))["personalData"]["note"] == NOTE

        async def reasons(s):
            history = (await client.get(f"/v1/signals/{s['id']}/history",
                                        params={"purpose": "case-handling"}, headers=fw)).json()
            return [(h["toStatus"], h["reason"]) for h in history["items"]]

        # The history keeps its transitions; a reason, free text about a person, goes.
        assert await reasons(nuisance_old) == [("new", None), ("closed-no-action", None)]
        assert await reasons(nuisance_young) == [("new", None), ("closed-no-action", REASON)]
        assert (await read(still_open))["personalData"]["note"] == NOTE
        async with db(client) as session:
            row = await session.get(Signal, uuid.UUID(nuisance_old["id"]))
            assert row.household_pseudonym is None and row.note_ciphertext is None
            # The statistics pseudonym goes too, here and in the outbox: signals holds the key
            # that recomputes it from an address (indicators keeps its own, on its own clock).
            assert row.household_stats_pseudonym is None
            stored = await session.scalar(select(Outbox.data).where(
                Outbox.type == SIGNAL_RECORDED.type, Outbox.subject == nuisance_old["id"]))
            young = await session.get(Signal, uuid.UUID(nuisance_young["id"]))
            assert young.household_stats_pseudonym is not None
            assert young.household_stats_pseudonym not in stored
            assert SignalRecorded.model_validate_json(stored).household_stats_pseudonym


async def test_purge_command_line(signals_service, auth):
    async with signals_service() as client:
        s = await create(client, auth("field-worker"))
        await _close(client, auth, s["id"], 800)
        url = runtime_of(client).settings.database_url
    env = {**os.environ, "DDK_SIGNALS_DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.signals.retention.purge", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert "from 1 signal" in stdout.decode()


async def test_export_and_erasure_of_a_household(signals_service, auth):
    async with signals_service() as client:
        fw, coord, officer = auth("field-worker"), auth("coordinator"), auth("privacy-officer")
        first = await create(client, fw, postcode="3011AB", houseNumber=17, houseLetter="b")
        second = await create(client, fw, category="loneliness", subcategory=None,
                              postcode="3011 ab", houseNumber="17", houseLetter="B",
                              note="woont alleen")
        elsewhere = await create(client, fw, houseNumber=19)
        other_corp = await create(client, auth("field-worker", "demo-corp-b"))
        # Share one with a partner, who reads it (a disclosure the export must list).
        assert (await move(client, first["id"], coord, "triaged",
                           reason=REASON)).status_code == 201
        ref = await client.post(f"/v1/signals/{first['id']}/referrals", json={
            "partnerOrganisation": "demo-municipality", "purpose": "woonoverlast-aanpak"},
            headers=coord)
        await client.get(f"/v1/referrals/{ref.json()['id']}",
                         headers=auth("partner", "demo-municipality",
                                      team="municipality"))

        query = {"postcode": "3011 AB", "houseNumber": 17, "houseLetter": "b"}
        assert (await client.post("/v1/data-subject-exports", json={"postcode": "3011"},
                                  headers=officer)).status_code == 400
        export = (await client.post("/v1/data-subject-exports", json=query,
                                    headers=officer)).json()
        assert sorted(s["id"] for s in export["signals"]) == sorted([first["id"],
                                                                     second["id"]])
        exported = {s["id"]: s for s in export["signals"]}
        assert exported[second["id"]]["personalData"]["note"] == "woont alleen"
        assert exported[first["id"]]["referrals"][0]["partnerOrganisation"] == (
            "demo-municipality")
        assert [(d["organisation"], d["recordId"]) for d in export["disclosures"]] == [
            ("demo-municipality", first["id"])]

        async with db(client) as session:
            household = (await session.get(Signal, uuid.UUID(first["id"]))
                         ).household_stats_pseudonym
            neighbour = (await session.get(Signal, uuid.UUID(elsewhere["id"]))
                         ).household_stats_pseudonym
        erased = (await client.post("/v1/data-subject-erasures", json=query,
                                    headers=officer)).json()
        assert erased["erased"] == 2
        again = (await client.post("/v1/data-subject-exports", json=query,
                                   headers=officer)).json()
        assert again["signals"] == []
        read = (await client.get(f"/v1/signals/{second['id']}", params={"purpose": "case-handling"},
                                 headers=fw)).json()
        assert read["personalDataRemoved"] is True and read["personalData"]["note"] is None
        assert read["category"] == "loneliness"  # the non-personal fact stays
        history = (await client.get(f"/v1/signals/{first['id']}/history",
                                    params={"purpose": "case-handling"}, headers=fw)).json()
        assert [(h["toStatus"], h["reason"], h["reasonGiven"]) for h in history["items"]] == [
            ("new", None, False), ("triaged", None, False), ("referred", None, False)]
        async with db(client) as session:
            erased_events = list(await session.scalars(
                select(Outbox.data).where(Outbox.type.like("%signal-erased%"))))
            outbox = {(e.type, e.subject): e.data for e in await session.scalars(select(Outbox))}
            row = await session.get(Signal, uuid.UUID(first["id"]))
            assert row.household_stats_pseudonym is None and row.household_pseudonym is None
            untouched = await session.get(Signal, uuid.UUID(elsewhere["id"]))
            assert untouched.note_ciphertext is not None
            assert (await session.get(Signal, uuid.UUID(other_corp["id"]))).note_ciphertext
        assert len(erased_events) == 2
        assert all("householdStatsPseudonym" not in e and not names_the_postcode(e)
                   for e in erased_events)
        # Nothing in the outbox ties the erased signals to the household any more, nor to each
        # other; their recorded events stay valid for a rebuild. Left as sent: the neighbour's,
        # and the other corporation's signal on the same address (another controller's).
        assert [k for k, v in outbox.items() if household in v] == [
            (SIGNAL_RECORDED.type, other_corp["id"])]
        unlinked = [SignalRecorded.model_validate_json(outbox[SIGNAL_RECORDED.type, s["id"]])
                    for s in (first, second)]
        assert len({u.household_stats_pseudonym for u in unlinked}) == 2
        assert SignalRecorded.model_validate_json(outbox[SIGNAL_RECORDED.type, elsewhere["id"]]
                                                  ).household_stats_pseudonym == neighbour


async def test_export_by_unit_ref_is_per_corporation(signals_service, auth):
    async with signals_service() as client:
        mine = await create(client, auth("field-worker"), unitRef="U-1", postcode=None,
                            houseNumber=None, houseLetter=None)
        await create(client, auth("field-worker", "demo-corp-b"), unitRef="U-1", postcode=None,
                     houseNumber=None, houseLetter=None)
        export = (await client.post("/v1/data-subject-exports", json={"unitRef": "U-1"},
                                    headers=auth("privacy-officer"))).json()
        assert [s["id"] for s in export["signals"]] == [mine["id"]]
        assert export["signals"][0]["personalData"]["unitRef"] == "U-1"
