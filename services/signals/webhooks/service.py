"""Webhook subscriptions: made, rotated and removed by an organisation's admin; their
delivery log and the replay of a dead delivery."""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.crypto.fields import FieldCipher
from services.signals.models import WebhookDelivery, WebhookSubscription
from services.signals.webhooks import repository, signing, targets, views
from services.signals.webhooks.schemas import (
    DeliveryPage,
    DeliveryStatus,
    SecretRotated,
    SecretRotationCreate,
    SubscriptionCreate,
    SubscriptionCreated,
)
from shared.auth import Principal
from shared.db import utcnow
from shared.pagination import decode_cursor, encode_cursor
from shared.problems import BadRequest, Conflict, InvalidParam, NotFound

#: The associated-data field of a signing secret (current and previous alike).
SECRET_FIELD = "webhookSecret"


def seal(cipher: FieldCipher, subscription_id: uuid.UUID, secret: str) -> str:
    return cipher.encrypt(secret, record_id=str(subscription_id), field=SECRET_FIELD)


def open_secret(cipher: FieldCipher, subscription_id: uuid.UUID, token: str) -> str:
    return cipher.decrypt(token, record_id=str(subscription_id), field=SECRET_FIELD)


async def check_target(url: str, *, allow_loopback: bool) -> None:
    """The SSRF rule at subscription time (delivery checks again): a 400 naming the URL."""
    try:
        await targets.checked(url, allow_loopback=allow_loopback)
    except targets.TargetRefused as exc:
        raise BadRequest(f"targetUrl refused: {exc.reason}", invalid=[InvalidParam(
            name="body.targetUrl", code=exc.code, reason=exc.reason)]) from None


async def create(session: AsyncSession, body: SubscriptionCreate, principal: Principal,
                 cipher: FieldCipher, *, allow_loopback: bool) -> SubscriptionCreated:
    await check_target(body.target_url, allow_loopback=allow_loopback)
    secret = signing.new_secret()
    row = WebhookSubscription(
        id=uuid.uuid4(), organisation=principal.organisation, target_url=body.target_url,
        event_types=orjson.dumps([t.value for t in body.event_types]).decode(),
        format=body.format.value, created_by=principal.subject, created_at=utcnow())
    row.secret_ciphertext = seal(cipher, row.id, secret)
    repository.add(session, row)
    return SubscriptionCreated(**views.subscription(row).model_dump(), secret=secret)


async def own(session: AsyncSession, subscription_id: uuid.UUID, principal: Principal, *,
              lock: bool = False) -> WebhookSubscription:
    """A subscription of the caller's organisation; any other is not found."""
    row = await repository.subscription(session, subscription_id, principal.organisation,
                                        lock=lock)
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id} of your organisation")
    return row


async def delete(session: AsyncSession, row: WebhookSubscription) -> None:
    """Gone from the list at once; what was still pending for it is cancelled (the log of
    what was delivered stays)."""
    row.deleted_at = utcnow()
    await repository.cancel_pending(session, row.id)


def rotate(row: WebhookSubscription, body: SecretRotationCreate, cipher: FieldCipher,
           ) -> SecretRotated:
    """A new secret; the current one signs beside it for `overlapSeconds` (0: not at all)."""
    now = utcnow()
    secret = signing.new_secret()
    if body.overlap_seconds > 0:
        row.previous_secret_ciphertext = row.secret_ciphertext
        row.previous_secret_until = now + timedelta(seconds=body.overlap_seconds)
    else:
        row.previous_secret_ciphertext = None
        row.previous_secret_until = None
    row.secret_ciphertext = seal(cipher, row.id, secret)
    row.secret_rotated_at = now
    return SecretRotated(secret=secret, previous_secret_valid_until=row.previous_secret_until)


async def delivery_page(session: AsyncSession, row: WebhookSubscription,
                        status: DeliveryStatus | None, cursor: str | None, limit: int,
                        ) -> DeliveryPage:
    """Newest first, each with its attempts (status code or error, latency)."""
    before = int(decode_cursor(cursor, 1)[0]) if cursor else None
    found = list(await repository.deliveries(session, row.id, status.value if status else None,
                                             before, limit + 1))
    page, more = found[:limit], len(found) > limit
    attempts = await repository.attempts(session, [d.id for d in page])
    return DeliveryPage(items=[views.delivery(d, [a for a in attempts if a.delivery_id == d.id])
                               for d in page],
                        next_cursor=encode_cursor(page[-1].event_seq) if more else None)


async def replay(session: AsyncSession, row: WebhookSubscription, delivery_id: uuid.UUID,
                 ) -> WebhookDelivery:
    """A dead delivery is tried again from now, with the same `webhook-id` and a fresh
    retry window; a pending or delivered one is a conflict."""
    found = await repository.delivery(session, row.id, delivery_id)
    if found is None:
        raise NotFound(f"no delivery {delivery_id} of this subscription")
    if found.status != DeliveryStatus.DEAD:
        raise Conflict(f"only a dead delivery can be replayed; this one is {found.status}",
                       deliveryStatus=found.status)
    now = utcnow()
    found.status = DeliveryStatus.PENDING.value
    found.next_attempt_at = now
    found.window_started_at = now
    found.dead_at = None
    found.leased_until = None
    found.lease_token = None
    return found
