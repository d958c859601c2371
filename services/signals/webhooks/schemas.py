"""Bodies of the webhook subscriptions API."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from services.signals.schemas_common import Body
from services.signals.webhooks.events import WebhookEventType

MAX_OVERLAP_S = 7 * 24 * 3600


class WebhookFormat(StrEnum):
    #: `{"type", "timestamp", "data"}` (the Standard Webhooks payload shape).
    STANDARD_WEBHOOKS = "standard-webhooks"
    #: A ZGW Notificaties API notification (kanaal, hoofdObject, resource, ...).
    ZGW = "zgw"


def _distinct(types: list[WebhookEventType]) -> list[WebhookEventType]:
    if len(set(types)) != len(types):
        raise ValueError("each event type once")
    return types


EventTypes = Annotated[list[WebhookEventType], Field(min_length=1, max_length=20),
                       AfterValidator(_distinct)]


class SubscriptionCreate(Body):
    """A push target of your organisation: where, which events and in which format."""

    target_url: str = Field(max_length=2000, description="https URL outside private ranges",
                            examples=["https://wijkteam.example.nl/hooks/dicht-de-kloof"])
    event_types: EventTypes
    format: WebhookFormat = WebhookFormat.STANDARD_WEBHOOKS


class SubscriptionRead(Body):
    id: uuid.UUID
    target_url: str
    event_types: list[WebhookEventType]
    format: WebhookFormat
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime | None = None
    previous_secret_valid_until: datetime | None = None


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="The signing secret (`whsec_...`): shown only now")


class SubscriptionPage(Body):
    items: list[SubscriptionRead]


class SecretRotationCreate(Body):
    """Rotate the signing secret; the old one keeps signing beside it for the overlap."""

    overlap_seconds: int = Field(default=86_400, ge=0, le=MAX_OVERLAP_S)


class SecretRotated(Body):
    secret: str = Field(description="The new signing secret (`whsec_...`): shown only now")
    previous_secret_valid_until: datetime | None


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"  # the subscription was deleted first


class AttemptRead(Body):
    number: int
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryRead(Body):
    id: uuid.UUID = Field(description="The `webhook-id` of every attempt and of a replay")
    event_type: WebhookEventType
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[AttemptRead]


class DeliveryPage(Body):
    items: list[DeliveryRead]
    next_cursor: str | None
