"""The demo loader: the NPLV focus areas as programme areas, loaded idempotently."""

from __future__ import annotations

from sqlalchemy import func, select

from services.indicators.demo import load_demo
from services.indicators.demo_data import generate_demo
from services.indicators.models import Area, Outbox, ProgrammeArea


async def _count(svc, model) -> int:
    async with svc.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_demo_register_loads_once_with_area_events(indicators, auth):
    dataset = generate_demo()
    async with indicators() as svc:
        settings = svc.runtime.settings
        changed = await load_demo(svc.runtime.sessions, settings, dataset)
        assert changed == len(dataset.areas) + len(dataset.programme_areas)
        assert await _count(svc, Area) == len(dataset.areas)
        assert await _count(svc, ProgrammeArea) == 20
        events = await _count(svc, Outbox)
        assert events == changed

        assert await load_demo(svc.runtime.sessions, settings, dataset) == 0
        assert await _count(svc, Outbox) == events

        reader = auth("programme-officer", "demo-programme")
        programmes = (await svc.client.get("/v1/programme-areas", headers=reader)).json()
        assert len(programmes["items"]) == 20
        first = programmes["items"][0]
        r = await svc.client.get(f"/v1/areas/{first['id']}/indicators", headers=reader)
        assert r.status_code == 200, r.text
        index = (await svc.client.get("/v1/vulnerability-index", headers=reader)).json()
        ranked = [i for i in index["items"] if i["rank"] is not None]
        assert len(ranked) > 100  # open statistics alone rank the demo buurten
