"""Which stored periods' public side waits for a protection of their stored raw counts.

A round stores a period's new raw counts and clears their marks; its public cells and index
follow when a protection of the period held in memory is stored (`worker.py`). A period let
go before that (the worker holds a few), or held by a worker that stopped, would keep the
cells of the protection before until a new signal came, and for a closed month none may
come. So `public_behind` is stored with the period, in the transaction that clears the
marks, and a period behind that no worker holds is built again whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.snapshots import store


class CatchUp:
    """`public_behind` as stored, as it is to be, and the periods to build again."""

    def __init__(self) -> None:
        self._stored: dict[str, bool] = {}  # as read at the round's start, and written since
        self._let_go: set[str] = set()  # let go while behind, not stored so yet

    def read(self, stored: dict[str, bool]) -> None:
        self._stored = stored
        self._let_go = {p for p in self._let_go if stored.get(p) is False}

    def let_go(self, period: str, behind: bool) -> None:
        if behind:
            self._let_go.add(period)
        else:
            self._let_go.discard(period)

    def _changes(self, held: Mapping[str, bool]) -> dict[str, bool]:
        """What differs from what is stored: let go while behind, or as the held state is
        (`held`: period -> behind). Periods stored since the round's start are not behind."""
        behind = dict.fromkeys(self._let_go, True) | dict(held)
        return {p: b for p, b in behind.items() if self._stored.get(p, b) != b}

    def waiting(self, first: str, held: Mapping[str, bool], built: Collection[str],
                capacity: int) -> list[str]:
        """A period behind that no state held makes up for, to build whole this round (one
        a round: a national build holds new marks back for seconds), if it fits in the
        `capacity` of held periods beside those `built` this round anyway and the held ones
        that are behind themselves (so periods take turns, none built again and again)."""
        room = capacity - len(built) - sum(b for p, b in held.items() if p not in built)
        waiting = sorted((p for p, behind in self._stored.items()
                          if behind and p not in held and p not in built),
                         key=lambda p: (p != first, p))
        return waiting[:1] if room > 0 else []

    async def write(self, session: AsyncSession, held: Mapping[str, bool]) -> None:
        for period, behind in self._changes(held).items():
            await store.set_public_behind(session, period, behind)
            # As if committed: a round that fails reads them again at the next one's start.
            self._stored[period] = behind
