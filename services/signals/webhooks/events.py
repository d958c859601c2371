"""What a partner's system is told, and whom: thin notifications written to the webhooks'
outbox (`webhook_events`) in the transaction of the change they tell of.

A notification carries its type, ids and the path of the resource its recipient may fetch
with its own token (the VNG Notificaties pattern), never a reason, note, outcome or address.
Each party to a referral hears of each of its steps (the partner at `/v1/referrals/{id}`, without
the signal's id its API withholds; the reporting organisation at
`/v1/signals/{signalId}/referrals/{id}`); a signal's status change
goes to the reporting organisation's own integrations.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import Referral, WebhookEvent
from shared.db import utcnow


class WebhookEventType(StrEnum):
    REFERRAL_CREATED = "referral.created"
    REFERRAL_ACCEPTED = "referral.accepted"
    REFERRAL_OUTCOME_RECORDED = "referral.outcome-recorded"
    REFERRAL_HANDED_BACK = "referral.handed-back"
    REFERRAL_WITHDRAWN = "referral.withdrawn"
    #: The household's erasure: a partner that received a referral of it forgets it too.
    REFERRAL_ERASED = "referral.erased"
    SIGNAL_STATUS_CHANGED = "signal.status-changed"


#: Referral steps (referrals/lifecycle.py `ReferralStep` values) as event types.
REFERRAL_STEPS = {
    "sent": WebhookEventType.REFERRAL_CREATED,
    "accepted": WebhookEventType.REFERRAL_ACCEPTED,
    "outcome-recorded": WebhookEventType.REFERRAL_OUTCOME_RECORDED,
    "handed-back": WebhookEventType.REFERRAL_HANDED_BACK,
    "withdrawn": WebhookEventType.REFERRAL_WITHDRAWN,
}

#: Set on a session that wrote a notification: its owner wakes the dispatcher after commit.
WROTE = "signals.webhooks.wrote"


def _add(session: AsyncSession, event_type: WebhookEventType, organisation: str,
         ordering_key: uuid.UUID, at: datetime, **ids: str) -> None:
    data = {"type": event_type.value, "occurredAt": at.isoformat(), **ids}
    session.add(WebhookEvent(type=event_type.value, organisation=organisation,
                             ordering_key=str(ordering_key), data=orjson.dumps(data).decode(),
                             created_at=utcnow()))
    session.info[WROTE] = True


def referral_step(session: AsyncSession, referral: Referral, step: str,
                  at: datetime | None = None) -> None:
    """Both parties to the referral hear of the step, each with the path it may read."""
    _to_both_parties(session, referral, REFERRAL_STEPS[step], at or utcnow())


def referral_erased(session: AsyncSession, referral: Referral, at: datetime) -> None:
    """The household was erased: whoever holds the referral forgets what it fetched."""
    _to_both_parties(session, referral, WebhookEventType.REFERRAL_ERASED, at)


def _to_both_parties(session: AsyncSession, referral: Referral,
                     event_type: WebhookEventType, at: datetime) -> None:
    # The partner reads a referral without its signal (PartnerReferral): no signalId for it,
    # or two referrals of one household could be linked by it.
    _add(session, event_type, referral.partner_organisation, referral.id, at,
         resourcePath=f"/v1/referrals/{referral.id}", referralId=str(referral.id))
    if referral.organisation != referral.partner_organisation:
        _add(session, event_type, referral.organisation, referral.id, at,
             resourcePath=f"/v1/signals/{referral.signal_id}/referrals/{referral.id}",
             referralId=str(referral.id), signalId=str(referral.signal_id))


def signal_status_changed(session: AsyncSession, signal_id: uuid.UUID, organisation: str,
                          at: datetime) -> None:
    """For the reporting organisation's own integrations; the new status is fetched."""
    _add(session, WebhookEventType.SIGNAL_STATUS_CHANGED, organisation, signal_id, at,
         signalId=str(signal_id), resourcePath=f"/v1/signals/{signal_id}")
