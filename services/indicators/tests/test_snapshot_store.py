"""The stored snapshots' rows as the worker writes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from services.indicators.snapshots import store
from services.indicators.snapshots.state import AreaRow
from shared.db import utcnow

PERIOD = "rolling-12m:2026-10"


def _rows(codes: list[str], value: int) -> list[AreaRow]:
    return [AreaRow(code, "buurt", f"[[{value},null]]".encode(), f"[{value}]".encode(),
                    f"{value}-{code}") for code in codes]


async def test_rows_are_written_many_to_a_statement_and_replace_their_own(indicators):
    """Rows go to SQLite as multi-row statements, not one step per row: each step lets go of
    the GIL, which the worker's round then waits for while a protection computes in its
    other thread (holding SQLite's write lock all the while). On both databases every row is
    stored, a later write replaces the rows it has and adds the new ones, and the others
    stay as they were."""
    codes = [f"BU0344{i:04d}" for i in range(2500)]
    async with indicators(snapshot_worker="off") as svc:
        statements: list[tuple[bool, int]] = []

        def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                 executemany: bool) -> None:
            if "indicator_snapshot_areas" in statement and "INSERT" in statement:
                statements.append((executemany, statement.count("),(") + 1))

        async with svc.runtime.sessions() as session, session.begin():
            engine = session.get_bind()
            event.listen(engine, "before_cursor_execute", seen)
            try:
                first = await store.write(session, PERIOD, _rows(codes[:2000], 1), whole=True,
                                          index_json=b"{}", computed_at=utcnow(),
                                          data_until=None, method_version="test")
            finally:
                event.remove(engine, "before_cursor_execute", seen)
        async with svc.runtime.sessions() as session, session.begin():
            second = await store.write(session, PERIOD, _rows(codes[1500:], 2), whole=False,
                                       index_json=None, computed_at=utcnow(),
                                       data_until=None, method_version="test")
        async with svc.runtime.sessions() as session:
            stored = {}
            after = ""
            while page := await store.rows_since(session, PERIOD, 0, after, limit=1000):
                stored.update({code: (seq, public, raw) for code, _, seq, public, raw in page})
                after = page[-1][0]
    assert second == first + 1
    assert stored == {
        **{c: (first, "[[1,null]]", "[1]") for c in codes[:1500]},
        **{c: (second, "[[2,null]]", "[2]") for c in codes[1500:]}}
    if svc.runtime.settings.database_url.startswith("sqlite"):
        assert statements == [(False, 1000), (False, 1000)]
