"""Every SQL statement of the webhooks: subscriptions, their events, deliveries, attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.signals.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

PENDING = "pending"


def add(session: AsyncSession, row: WebhookSubscription | WebhookDelivery | WebhookAttempt,
        ) -> None:
    session.add(row)


async def subscriptions(session: AsyncSession, organisation: str) -> Sequence[WebhookSubscription]:
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.organisation == organisation,
               WebhookSubscription.deleted_at.is_(None))
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id))
    return rows.all()


async def subscription(session: AsyncSession, subscription_id: uuid.UUID,
                       organisation: str | None = None, *, lock: bool = False,
                       ) -> WebhookSubscription | None:
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id,
                                              WebhookSubscription.deleted_at.is_(None))
    if organisation is not None:
        query = query.where(WebhookSubscription.organisation == organisation)
    if lock:
        query = query.with_for_update()
    found: WebhookSubscription | None = await session.scalar(query)
    return found


async def cancel_pending(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id,
               WebhookDelivery.status == PENDING)
        .values(status="cancelled", leased_until=None, lease_token=None))


async def deliveries(session: AsyncSession, subscription_id: uuid.UUID, status: str | None,
                     before_seq: int | None, limit: int) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_seq is not None:
        query = query.where(WebhookDelivery.event_seq < before_seq)
    rows = await session.scalars(query.order_by(WebhookDelivery.event_seq.desc()).limit(limit))
    return rows.all()


async def attempts(session: AsyncSession, delivery_ids: list[uuid.UUID],
                   ) -> Sequence[WebhookAttempt]:
    if not delivery_ids:
        return []
    rows = await session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number))
    return rows.all()


async def delivery(session: AsyncSession, subscription_id: uuid.UUID,
                   delivery_id: uuid.UUID) -> WebhookDelivery | None:
    found: WebhookDelivery | None = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                      WebhookDelivery.subscription_id == subscription_id)
        .with_for_update())
    return found


# --- The dispatcher's statements.


async def serialise_fan_out(session: AsyncSession) -> None:
    """On PostgreSQL one fan-out at a time across replicas, so deliveries of one ordering
    key are numbered in the order of their events (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(805306457)"))


async def unfanned(session: AsyncSession, limit: int) -> Sequence[WebhookEvent]:
    rows = await session.scalars(
        select(WebhookEvent).where(WebhookEvent.fanned_out_at.is_(None))
        .order_by(WebhookEvent.id).limit(limit))
    return rows.all()


async def active_subscriptions(session: AsyncSession, organisations: set[str],
                               ) -> Sequence[WebhookSubscription]:
    rows = await session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.organisation.in_(organisations),
               WebhookSubscription.deleted_at.is_(None)))
    return rows.all()


async def mark_fanned_out(session: AsyncSession, ids: list[int], at: datetime) -> None:
    await session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids))
                          .values(fanned_out_at=at))


async def due(session: AsyncSession, now: datetime, limit: int, *, skip_locked: bool,
              except_subscriptions: set[uuid.UUID]) -> Sequence[WebhookDelivery]:
    """The deliveries to send now: pending, due, not leased to a live worker, and first in
    line for their subscription and ordering key (an earlier pending one waits its retry
    first: order holds per referral and target; a dead one no longer holds the line)."""
    earlier = aliased(WebhookDelivery)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now,
               (WebhookDelivery.leased_until.is_(None)) | (WebhookDelivery.leased_until < now),
               ~exists().where(and_(earlier.subscription_id == WebhookDelivery.subscription_id,
                                    earlier.ordering_key == WebhookDelivery.ordering_key,
                                    earlier.status == PENDING,
                                    earlier.event_seq < WebhookDelivery.event_seq)))
        .order_by(WebhookDelivery.event_seq).limit(limit))
    if except_subscriptions:  # at their limit of requests in flight
        query = query.where(WebhookDelivery.subscription_id.not_in(except_subscriptions))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = await session.scalars(query)
    return rows.all()


async def lease(session: AsyncSession, ids: list[uuid.UUID], until: datetime,
                token: str) -> None:
    await session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                          .values(leased_until=until, lease_token=token))


async def locked_deliveries(session: AsyncSession, ids: list[uuid.UUID],
                            ) -> dict[uuid.UUID, WebhookDelivery]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).with_for_update())
    return {r.id: r for r in rows}


async def events(session: AsyncSession, seqs: set[int]) -> dict[int, WebhookEvent]:
    rows = await session.scalars(select(WebhookEvent).where(WebhookEvent.id.in_(seqs)))
    return {r.id: r for r in rows}


async def subscriptions_by_id(session: AsyncSession, ids: set[uuid.UUID],
                              ) -> dict[uuid.UUID, WebhookSubscription]:
    """The live ones among `ids` (a deleted subscription's deliveries were cancelled)."""
    rows = await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.id.in_(ids),
                                          WebhookSubscription.deleted_at.is_(None)))
    return {r.id: r for r in rows}


async def next_retry_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When the next scheduled retry falls due (deliveries due now are claimed already or
    wait for an earlier one of their key, whose completion wakes the dispatcher)."""
    found: datetime | None = await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at))
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at > now))
    return found


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget what ended before `before`: finished deliveries (delivered, cancelled, dead)
    with their attempts, and events no pending delivery still needs. Returns deliveries
    removed."""
    done = ("delivered", "cancelled", "dead")
    old = select(WebhookDelivery.id).where(WebhookDelivery.status.in_(done),
                                           WebhookDelivery.created_at < before)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    removed = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.status.in_(done),
                                      WebhookDelivery.created_at < before))
    await session.execute(delete(WebhookEvent).where(
        WebhookEvent.fanned_out_at < before,
        ~exists().where(WebhookDelivery.event_seq == WebhookEvent.id)))
    count: int = removed.rowcount  # type: ignore[attr-defined]
    return count
