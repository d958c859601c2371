"""The change feed of the field apps: `GET /v1/signals?changedSince=<cursor>`.

An app that comes back online asks what changed in the signals its worker reported: their
status, the outcomes of their referrals, and which were erased or purged (tombstones: the app
must forget what it holds of them). The cursor is a position in one sequence over signals
and tombstones.

Why positions are not given at the change itself: a number or a timestamp taken while a
transaction runs is visible only when it commits, and transactions commit in any order. A
reader that has passed position 12 would never see a change numbered 11 that commits after
it. So a change only marks its row (`change_position` null: at intake, at every history
entry and referral write, `models._mark_signal_changed`; a new tombstone), and numbering
(`number_changes`) happens later, over committed rows only, under a lock on the feed's head
row held until its transaction commits. Each numbering thus commits before the next begins,
the positions a reader can see are always 1..n without a hole, and a change that commits
late is numbered late. The feed numbers what waits before it reads, in the request's own
transaction (on SQLite every transaction writes under BEGIN IMMEDIATE anyway).

A signal changed twice between two reads shows once, as it is now, at its latest position.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework import repository, views
from services.signals.casework.schemas import SignalPage
from services.signals.models import Signal, SignalTombstone
from shared.auth import Principal
from shared.db import utcnow
from shared.pagination import decode_cursor, encode_cursor
from shared.problems import BadRequest, InvalidParam

#: `changedSince` for an app's first sync: from the beginning.
START = "0"
#: Rows numbered per statement, and at most per read of the feed (a read stays quick;
#: what is left waits for the next read, numbered as late as it is).
NUMBERING_CHUNK = 1000
NUMBERING_MAX = 20_000
_TAG = "changes"  # a list's cursor is no feed cursor, and the other way round


def encode_position(position: int) -> str:
    return encode_cursor(_TAG, position)


def decode_position(cursor: str) -> int:
    """The position of a `changedSince`; anything but START or a nextCursor is a 400."""
    if cursor == START:
        return 0
    try:
        tag, position = decode_cursor(cursor, 2)
    except BadRequest:
        tag, position = None, None
    if tag != _TAG or not isinstance(position, int) or not 0 <= position < 2**63:
        raise BadRequest("changedSince is not a cursor of the change feed", invalid=[
            InvalidParam(name="query.changedSince", code="invalid_cursor",
                         reason=f"use {START} for a first sync, then a nextCursor as given")])
    return position


async def number_changes(session: AsyncSession) -> None:
    """Give every committed, unnumbered change its position, in one locked section."""
    if not await repository.has_unnumbered_changes(session):
        return
    head = await repository.lock_feed_head(session)
    budget = NUMBERING_MAX
    for table, key, order in repository.FEED_TABLES:
        while budget > 0 and (waiting := await repository.unnumbered(
                session, table, key, order, min(NUMBERING_CHUNK, budget))):
            positions = {row_id: head.position + n for n, row_id in enumerate(waiting, 1)}
            head.position += len(waiting)
            budget -= len(waiting)
            await repository.number(session, table, key, positions)
    await session.flush()


async def changes(session: AsyncSession, principal: Principal, since: str, limit: int,
                  ) -> SignalPage:
    """The caller's own signals changed after `since`, and tombstones, in position order."""
    after = decode_position(since)
    await number_changes(session)
    org, me = principal.organisation, principal.subject
    signals = await repository.changed_signals(session, org, me, after, limit + 1)
    tombstones = await repository.tombstones_after(session, org, me, after, limit + 1)
    # Positions are unique over both tables: one order.
    entries = sorted([*((s.change_position or 0, s) for s in signals),
                      *((t.change_position or 0, t) for t in tombstones)],
                     key=lambda entry: entry[0])
    page = entries[:limit]
    shown = [row for _, row in page if isinstance(row, Signal)]
    outcomes = await repository.outcomes_of(session, (s.id for s in shown))
    now = utcnow()
    return SignalPage(
        items=[views.summary(s, now, outcomes[s.id]) for s in shown],
        tombstones=[views.tombstone(row) for _, row in page
                    if isinstance(row, SignalTombstone)],
        next_cursor=encode_position(page[-1][0] if page else after),
        has_more=len(entries) > limit)
