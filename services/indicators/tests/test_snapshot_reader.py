"""What API readers wait for: the stored snapshots as held in memory, refreshed page by page."""

from __future__ import annotations

import asyncio

from services.indicators.snapshots import reader as snapshot_reader
from services.indicators.snapshots import store
from services.indicators.tests.helpers import households, record_each, settle, small_register, value
from tests.helpers import eventually

BUURTEN = ["BU03440101", "BU03440102", "BU03440201"]


async def test_a_reader_waits_for_one_page_of_a_refresh_at_most(indicators, auth, monkeypatch):
    """After a protection nationally thousands of rows change at once: the reader that
    refreshed waited for all of them (the slowest reads, one in a hundred). It now waits for
    one page at most and answers from what is held; the refresh goes on in the background,
    and what it loaded is read once it is whole."""
    monkeypatch.setattr(snapshot_reader, "PAGE", 2)
    admin = auth("admin")
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, admin)
        await settle(svc.runtime.snapshots)

        async def signals() -> list[float]:
            found = []
            for code in BUURTEN:
                r = await svc.client.get(f"/v1/areas/{code}/indicators", headers=admin)
                assert r.status_code == 200, r.text
                found.append(value(r.json(), "signals")["value"])
            return found

        assert await signals() == [0.0, 0.0, 0.0]  # nothing held yet: read whole at once
        gate, pages = asyncio.Event(), []
        rows_since = store.rows_since

        async def second_page_waits(session, period, seq, after="", limit=2000):
            pages.append(after)
            if after:
                await gate.wait()
            return await rows_since(session, period, seq, after, limit)

        monkeypatch.setattr(store, "rows_since", second_page_waits)
        await record_each(svc.runtime, [*households(BUURTEN[0], 3), *households(BUURTEN[2], 2)])
        await settle(svc.runtime.snapshots)
        await asyncio.sleep(svc.runtime.reader.refresh_s)
        # Five changed rows (two buurten, two wijken, the gemeente, ...): three pages.
        assert await asyncio.wait_for(signals(), timeout=10) == [0.0, 0.0, 0.0]
        assert [p for p in pages if p], "the refresh never reached a second page"
        gate.set()

        async def refreshed() -> bool:
            return await signals() == [3.0, 0.0, 2.0]

        await eventually(refreshed)
