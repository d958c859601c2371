"""HTTP edge of the webhooks: an organisation's admin manages its push subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from services.signals.dependencies import Admin, CryptoDep, SessionDep, SettingsDep
from services.signals.webhooks import events, repository, service, views
from services.signals.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    DeliveryStatus,
    SecretRotated,
    SecretRotationCreate,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionRead,
)
from shared.openapi import problem_responses
from shared.pagination import MAX_LIMIT

router = APIRouter(tags=["webhooks"])

SubscriptionId = Annotated[uuid.UUID, Path(alias="subscriptionId")]
DeliveryId = Annotated[uuid.UUID, Path(alias="deliveryId")]


@router.post("/webhook-subscriptions", status_code=status.HTTP_201_CREATED,
             response_model=SubscriptionCreated, responses=problem_responses(400, 403))
async def create_subscription(
    body: SubscriptionCreate, response: Response, session: SessionDep, settings: SettingsDep,
    crypto: CryptoDep, principal: Admin,
) -> SubscriptionCreated:
    """Push your organisation's events to a target URL; the signing secret is shown only in
    this answer."""
    created = await service.create(session, body, principal, crypto.cipher,
                                   allow_loopback=settings.webhook_allow_loopback)
    response.headers["Location"] = f"/v1/webhook-subscriptions/{created.id}"
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("/webhook-subscriptions", response_model=SubscriptionPage,
            responses=problem_responses(403))
async def list_subscriptions(session: SessionDep, principal: Admin) -> SubscriptionPage:
    """Your organisation's webhook subscriptions (without secrets)."""
    rows = await repository.subscriptions(session, principal.organisation)
    return SubscriptionPage(items=[views.subscription(r) for r in rows])


@router.get("/webhook-subscriptions/{subscriptionId}", response_model=SubscriptionRead,
            responses=problem_responses(403, 404))
async def get_subscription(subscription_id: SubscriptionId, session: SessionDep,
                           principal: Admin) -> SubscriptionRead:
    """One webhook subscription of your organisation (without its secret)."""
    return views.subscription(await service.own(session, subscription_id, principal))


@router.delete("/webhook-subscriptions/{subscriptionId}",
               status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(403, 404))
async def delete_subscription(subscription_id: SubscriptionId, session: SessionDep,
                              principal: Admin) -> Response:
    """Stop pushing to this target; what was still pending for it is cancelled."""
    row = await service.own(session, subscription_id, principal, lock=True)
    await service.delete(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhook-subscriptions/{subscriptionId}/secret-rotation",
             response_model=SecretRotated, responses=problem_responses(400, 403, 404))
async def rotate_secret(
    subscription_id: SubscriptionId, session: SessionDep, crypto: CryptoDep, principal: Admin,
    response: Response, body: SecretRotationCreate | None = None,
) -> SecretRotated:
    """A new signing secret, shown only in this answer; the old one keeps signing beside it
    for `overlapSeconds` (default a day), so the receiver can switch without a gap."""
    row = await service.own(session, subscription_id, principal, lock=True)
    response.headers["Cache-Control"] = "no-store"
    return service.rotate(row, body or SecretRotationCreate(), crypto.cipher)


@router.get("/webhook-subscriptions/{subscriptionId}/deliveries", response_model=DeliveryPage,
            responses=problem_responses(400, 403, 404))
async def list_deliveries(
    subscription_id: SubscriptionId, session: SessionDep, principal: Admin,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> DeliveryPage:
    """The delivery log: newest first, each with its attempts (status code, latency)."""
    row = await service.own(session, subscription_id, principal)
    return await service.delivery_page(session, row, delivery_status, cursor, limit)


@router.post("/webhook-subscriptions/{subscriptionId}/deliveries/{deliveryId}/replay",
             response_model=DeliveryRead, status_code=status.HTTP_202_ACCEPTED,
             responses=problem_responses(403, 404, 409))
async def replay_delivery(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, session: SessionDep,
    principal: Admin,
) -> DeliveryRead:
    """Send a dead delivery again (same `webhook-id`, a fresh retry window)."""
    row = await service.own(session, subscription_id, principal)
    found = await service.replay(session, row, delivery_id)
    session.info[events.WROTE] = True  # wake the dispatcher after the commit
    return views.delivery(found, [])
