"""Signal intake: how a signal is stored.

1. `new_signal` prepares everything a new signal writes (`NewSignal`): its row with personal
   fields encrypted, its first history entry, its events for the outbox, its hashed
   Idempotency-Key.
2. The group writer (`writer.GroupWriter`) stores it, sharing one transaction and commit with
   the other requests waiting at that moment, through `repository.insert_new`, the one
   insert of new signals. The outbox relay is woken after the commit.
3. What the writer did not store ("deferred": its id or key is already taken, or another
   process got in first) is settled here, on an ordinary session: a replay of the stored
   signal or a Conflict. A signal that turns out to be new after all goes back to step 2.

A signal's `id` is its idempotency key: the same id with the same (normalised) body replays
the stored signal, with another body it conflicts; an Idempotency-Key works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework import views
from services.signals.casework.schemas import SignalRead
from services.signals.intake import repository
from services.signals.intake.new_signal import NewSignal, body_hash, new_signal
from services.signals.intake.repository import Stored
from services.signals.intake.schemas import SignalCreate
from services.signals.models import Signal
from shared.auth import Principal
from shared.problems import Conflict
from shared.runtime import transaction, unavailable_as_503

if TYPE_CHECKING:
    from services.signals.runtime import SignalsRuntime

Result = Literal["created", "replayed"]

# Rounds of writer and settling: a second is needed when another process's group rolled
# ours back; a third only when concurrent requests keep racing for the same id.
ATTEMPTS = 3


@dataclass(frozen=True)
class Taken:
    """A signal taken in by an app: the answer's body, and whether it was new."""

    body: SignalRead
    result: Result


async def take_signal(rt: SignalsRuntime, body: SignalCreate, principal: Principal,
                      idempotency_key: str | None = None) -> Taken:
    """Store one signal from an app, or replay it; raises Conflict for a reused id or key."""
    new = new_signal(body, principal, rt.crypto, rt.settings.cloudevents_source(),
                     idempotency_key)
    for _ in range(ATTEMPTS):
        if await _store(rt, [new]) == ["created"]:
            return Taken(views.created(new.signal), "created")
        async with transaction(rt) as session:
            stored = await _settle(session, new, principal)
        if stored is not None:
            return Taken(views.full(stored, []), "replayed")
    raise Conflict("concurrent requests recorded this signal; retry to get its stored result")


async def take_batch(rt: SignalsRuntime, bodies: list[SignalCreate], principal: Principal,
                     correction: timedelta | None = None) -> list[Result | Conflict]:
    """Store the valid signals of a batch in one transaction of the group writer, or replay
    them; a conflict stays per item. `correction` is the batch's clock correction."""
    source = rt.settings.cloudevents_source()
    news = [new_signal(b, principal, rt.crypto, source, None, correction=correction)
            for b in bodies]
    results: list[Result | Conflict] = ["created"] * len(news)
    pending = list(range(len(news)))
    for _ in range(ATTEMPTS):
        stored = await _store(rt, [news[i] for i in pending])
        deferred = [i for i, outcome in zip(pending, stored, strict=True)
                    if outcome == "deferred"]
        if not deferred:
            return results
        async with transaction(rt) as session:
            existing = await repository.signals_by_id(session, {news[i].id for i in deferred})
        pending = []
        for i in deferred:
            signal = existing.get(news[i].id)
            if signal is None:
                pending.append(i)  # new after all: its group was rolled back
                continue
            try:
                results[i] = _replay(signal, principal, news[i].request_hash)
            except Conflict as exc:
                results[i] = exc
        if not pending:
            return results
    raise Conflict("concurrent requests recorded these signals; retry the batch (it is safe)")


async def replays(rt: SignalsRuntime, bodies: list[SignalCreate], principal: Principal,
                  ) -> list[bool]:
    """Which of these bodies replay a signal their reporter stored with the same body.

    For batch items refused for their moments only: the device stamped them by a clock that
    was off and has been set right since, so today's check refuses what it took before; the
    stored signal is the answer all the same, as for any replay."""
    async with transaction(rt) as session:
        stored = await repository.signals_by_id(session, {b.id for b in bodies})
    found = []
    for body in bodies:
        signal = stored.get(body.id)
        found.append(signal is not None and _same_reporter(signal, principal)
                     and signal.request_hash == body_hash(rt.crypto, body))
    return found


async def _store(rt: SignalsRuntime, signals: list[NewSignal]) -> list[Stored]:
    with unavailable_as_503():
        return await rt.intake.store(signals)


async def _settle(session: AsyncSession, new: NewSignal, principal: Principal,
                  ) -> Signal | None:
    """The stored signal `new` replays; None when neither its key nor its id is stored.

    Raises Conflict when it reuses an id or key with another body. A replay by id with a
    key not seen before records that key, so a retry with the key replays as well.
    """
    if new.key is not None:
        known = await _by_key(session, principal, new.key[1], new.request_hash)
        if known is not None:
            return known
    existing = await repository.signal(session, new.id)
    if existing is None:
        return None
    _replay(existing, principal, new.request_hash)
    if new.key is not None:
        try:
            async with session.begin_nested():
                repository.add_idempotency_key(session, principal.organisation, new.key[1],
                                               new.id, new.request_hash)
        except IntegrityError:  # a concurrent request recorded this key first: its answer
            return await _by_key(session, principal, new.key[1], new.request_hash)
    return existing


def _replay(existing: Signal, principal: Principal, digest: str) -> Result:
    # Only its reporter's retry is a replay. Anyone else gets the same conflict whatever the
    # body, or replaying guessed addresses under a colleague's signal id would confirm one.
    if not _same_reporter(existing, principal) or existing.request_hash != digest:
        raise Conflict(f"signal {existing.id} was already recorded with a different body")
    return "replayed"


def _same_reporter(existing: Signal, principal: Principal) -> bool:
    return (existing.organisation == principal.organisation
            and existing.reported_by == principal.subject)


async def _by_key(session: AsyncSession, principal: Principal, key: str, digest: str,
                  ) -> Signal | None:
    known = await repository.idempotency_key(session, principal.organisation, key)
    if known is None:
        return None
    if known.request_hash != digest:
        raise Conflict("this Idempotency-Key was used with a different body")
    stored = await repository.signal(session, known.signal_id)
    if stored is None:  # erased since: nothing to replay, the key is spent
        raise Conflict("the signal of this Idempotency-Key no longer exists")
    if stored.reported_by != principal.subject:
        raise Conflict("this Idempotency-Key was used with a different body")
    return stored
