"""Webhook rows as API bodies (never a secret: those are shown only when made)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from services.signals.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.signals.webhooks.events import WebhookEventType
from services.signals.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    DeliveryStatus,
    SubscriptionRead,
    WebhookFormat,
)
from shared.db import utcnow


def event_types(row: WebhookSubscription) -> list[WebhookEventType]:
    return [WebhookEventType(t) for t in orjson.loads(row.event_types)]


def subscription(row: WebhookSubscription) -> SubscriptionRead:
    overlap = row.previous_secret_until
    return SubscriptionRead(
        id=row.id, target_url=row.target_url, event_types=event_types(row),
        format=WebhookFormat(row.format), created_by=row.created_by, created_at=row.created_at,
        secret_rotated_at=row.secret_rotated_at,
        previous_secret_valid_until=overlap if overlap and overlap > utcnow() else None)


def delivery(row: WebhookDelivery, attempts: Sequence[WebhookAttempt]) -> DeliveryRead:
    status = DeliveryStatus(row.status)
    return DeliveryRead(
        id=row.id, event_type=WebhookEventType(row.type), status=status,
        attempts=row.attempts, created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if status is DeliveryStatus.PENDING else None,
        delivered_at=row.delivered_at, dead_at=row.dead_at,
        last_status_code=row.last_status_code, last_error=row.last_error,
        attempt_log=[AttemptRead(number=a.number, at=a.at, status_code=a.status_code,
                                 latency_ms=a.latency_ms, error=a.error) for a in attempts])
