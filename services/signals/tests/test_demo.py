"""The demo loader: ~200 synthetic signals, idempotent, with their events in the outbox."""

from __future__ import annotations

from sqlalchemy import func, select

from services.signals.demo import load_demo
from services.signals.models import ConsentRecord, Outbox, Referral, Signal
from services.signals.tests.conftest import db
from tests.apps import runtime_of


async def test_demo_data_loads_once(signals_service, auth):
    async with signals_service() as client:
        rt = runtime_of(client)
        assert await load_demo(rt.sessions, rt.settings) == 200
        assert await load_demo(rt.sessions, rt.settings) == 0
        async with db(client) as session:
            orgs = dict((await session.execute(
                select(Signal.organisation, func.count()).group_by(Signal.organisation))).all())
            assert orgs == {"demo-corp-a": 100, "demo-corp-b": 100}
            assert await session.scalar(select(func.count()).where(~Signal.synthetic)) == 0
            assert await session.scalar(select(func.count()).select_from(Outbox)) >= 200
        page = (await client.get("/v1/signals", params={"limit": 200},
                                 headers=auth("coordinator", "demo-corp-b"))).json()
        assert len(page["items"]) == 100
        assert {i["areaCode"][:6] for i in page["items"]} == {"BU0363"}


async def test_demo_has_consents_and_team_inboxes(signals_service, auth):
    async with signals_service() as client:
        rt = runtime_of(client)
        await load_demo(rt.sessions, rt.settings)
        async with db(client) as session:
            kinds = dict((await session.execute(select(
                ConsentRecord.kind, func.count()).group_by(ConsentRecord.kind))).all())
            assert kinds["consent"] > 0 and kinds["objection"] > 0
            purposes = set(await session.scalars(select(Referral.purpose).distinct()))
        assert purposes, "some consented, triaged signals are referred"
        inboxes = {}
        for team in ("wijkteam", "debt-help", "municipality"):
            page = (await client.get("/v1/referrals", params={"limit": 200}, headers=auth(
                "partner", "demo-municipality", team=team))).json()
            inboxes[team] = {i["purpose"] for i in page["items"]}
        assert inboxes["municipality"] == set()
        assert inboxes["wijkteam"] | inboxes["debt-help"] == purposes
        assert not inboxes["wijkteam"] & inboxes["debt-help"]
