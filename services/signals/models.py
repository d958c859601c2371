"""The signals service's tables.

Personal data lives only in `*_ciphertext` columns (AES-GCM, keys outside the database) and
in the operational household pseudonym; everything else is a non-personal fact that survives
retention and erasure (counts, statuses, referral metadata).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, UUIDString, service_metadata, utcnow
from shared.outbox import OutboxMixin

BigId = BigInteger().with_variant(Integer, "sqlite")
UNNUMBERED = text("change_position IS NULL")


class Base(DeclarativeBase):
    metadata = service_metadata()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class Signal(Base):
    """A doorstep signal. Personal fields are encrypted; the household is a pseudonym."""

    __tablename__ = "signals"
    __table_args__ = (
        Index("ix_signals_org_recorded", "organisation", "recorded_at", "id"),
        Index("ix_signals_org_status_due", "organisation", "status", "sla_due_at"),
        Index("ix_signals_feed", "organisation", "reported_by", "change_position"),
        # Only the changes waiting for a position: small, whatever the table's size.
        Index("ix_signals_unnumbered", "recorded_at", "id", sqlite_where=UNNUMBERED,
              postgresql_where=UNNUMBERED),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100))
    reported_by: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(10))
    area_code: Mapped[str] = mapped_column(String(10), index=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="new")
    version: Mapped[int] = mapped_column(Integer, default=1)
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    # Rent-arrears preconditions (Besluit gemeentelijke schuldhulpverlening art. 2): process
    # facts, not personal content.
    personal_contact_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    debt_help_pointed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    written_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tenant_objected: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Personal data: pseudonyms and ciphertexts, removed by retention and erasure.
    household_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)
    household_stats_pseudonym: Mapped[str | None] = mapped_column(String(64))
    address_ciphertext: Mapped[str | None] = mapped_column(Text)
    note_ciphertext: Mapped[str | None] = mapped_column(Text)
    arrears_ciphertext: Mapped[str | None] = mapped_column(Text)
    # Keyed hash of the normalised request body: replay detection without keeping the body.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    personal_data_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Seconds added to the device's moments at intake (server now - the batch's `sentAt`);
    # null when the app sent no `sentAt`.
    clock_correction_seconds: Mapped[int | None] = mapped_column(Integer)
    # The signal's place in the change feed of the field apps; null from a change until the
    # feed's sequencer numbers it (casework/changes.py says why not at the change itself).
    change_position: Mapped[int | None] = mapped_column(BigId)


class SignalTombstone(Base):
    """What the change feed says of a signal whose personal data was erased or purged: that
    the apps must forget it. Its id and scope only, no personal data."""

    __tablename__ = "signal_tombstones"
    __table_args__ = (Index("ix_signal_tombstones_feed", "organisation", "reported_by",
                            "change_position"),)

    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100))
    reported_by: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # erasure | purge
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())
    change_position: Mapped[int | None] = mapped_column(BigId, index=True)


class ChangeFeedHead(Base):
    """The last position the change feed gave out, one row: locked while numbering changes,
    so positions become visible in their order."""

    __tablename__ = "change_feed_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(BigId, default=0, server_default="0")


class IdempotencyKey(Base):
    """`Idempotency-Key` header -> the signal it created and the body's keyed hash."""

    __tablename__ = "idempotency_keys"

    organisation: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Keyed hash of the header (`Crypto.idempotency_key_hash`), never the value sent.
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString())
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StatusChange(Base):
    """Append-only history of a signal's workflow states."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("signals.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    # Free text about a person ("mevrouw belde terug, haar zoon is opgenomen"): encrypted
    # like the note, bound to its signal and version, read only for a stated purpose.
    reason_ciphertext: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(30))
    # A step in a referral's life cycle (referrals/lifecycle.py), when the entry records one:
    # the signal's status may stay as it was (`from_status == to_status`).
    referral_id: Mapped[uuid.UUID | None] = mapped_column(UUIDString())
    referral_step: Mapped[str | None] = mapped_column(String(20))
    referral_reason: Mapped[str | None] = mapped_column(String(40))  # a code, not free text
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_by_organisation: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(Base):
    """A signal shared with a partner on a recorded purpose and legal basis."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_partner_referred", "partner_organisation",
                            "referred_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("signals.id"), index=True)
    organisation: Mapped[str] = mapped_column(String(100))
    partner_organisation: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(30))
    legal_reference: Mapped[str] = mapped_column(Text)
    exposed_fields: Mapped[str] = mapped_column(Text)  # JSON list of ReferralField values
    referred_by: Mapped[str] = mapped_column(String(200))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # referrals/lifecycle.py: sent -> accepted -> completed; handed-back; withdrawn. Steps
    # change it only by a conditional update (`repository.move`), so two racing steps
    # cannot both apply.
    status: Mapped[str] = mapped_column(String(20), default="sent", server_default="sent")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_by: Mapped[str | None] = mapped_column(String(200))
    # The partner's note with the outcome: free text about a household, so personal data
    # (encrypted, bound to the referral; only the reporting coordinator reads it, logged).
    outcome_note_ciphertext: Mapped[str | None] = mapped_column(Text)
    follow_up_date: Mapped[date | None] = mapped_column(Date)
    handed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_back_by: Mapped[str | None] = mapped_column(String(200))
    # Withdrawn by the reporting coordinator, or with the consent it rests on: the
    # partner's access ends at once (so it does when handed back).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    # The coded reason of a hand-back or withdrawal (its free text is in the history entry).
    end_reason: Mapped[str | None] = mapped_column(String(40))


class ConsentRecord(Base):
    """A resident's consent to a purpose, its withdrawal, or an objection (append-only).

    The latest consent or withdrawal of a purpose decides; an objection stands.
    """

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    signal_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("signals.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # consent | withdrawal | objection
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the resident said so
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_organisation: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ErasureRecord(Base):
    """Who erased or purged which signals' personal data, when and why (no personal data)."""

    __tablename__ = "erasure_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # erasure | purge
    organisation: Mapped[str] = mapped_column(String(100), index=True)  # the controller
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(64))
    signal_ids: Mapped[str] = mapped_column(Text)  # JSON list
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccessLogRow(Base):
    """One read of personal data (or a refused attempt), chained by a keyed hash over all its
    fields (append-only; `accesslog/chain.py`)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The entry's place in the chain, from 1 without gaps (inside the hash).
    sequence: Mapped[int] = mapped_column(BigId, unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(50))
    purpose: Mapped[str] = mapped_column(String(200))
    record_type: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[str] = mapped_column(String(200), index=True)
    fields: Mapped[str] = mapped_column(Text)  # JSON list
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The controller of the record (the reporting corporation): whose privacy officer sees it.
    controller: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(10), default="granted",
                                         server_default="granted")
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AccessLogHead(Base):
    """The chain's head, one row: locked while appending so concurrent writers serialise."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    head: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(BigId, default=0, server_default="0")


class AccessLogVerified(Base):
    """Where verification may resume: the latest checkpoint it found the chain to match.

    `mac` is keyed like the chain, so moving this position forward past entries that were
    never verified takes the key too.
    """

    __tablename__ = "access_log_verified"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigId)
    head: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    mac: Mapped[str] = mapped_column(String(64))


# The change feed must hear of every change a field app shows: a status (each one writes a
# history entry) and a referral (made, its outcome, its withdrawal). Marking the signal here,
# at the flush that writes them, catches every code path that changes them, also those
# written later; the feed's sequencer then gives the signal its next position
# (casework/changes.py). New signals are born unmarked (null), erased and purged ones leave
# a `SignalTombstone`.
@event.listens_for(StatusChange, "after_insert")
@event.listens_for(Referral, "after_insert")
@event.listens_for(Referral, "after_update")
def _mark_signal_changed(mapper: Mapper[Any], connection: Connection,
                         target: StatusChange | Referral) -> None:
    connection.execute(update(Signal.__table__).where(  # type: ignore[arg-type]
        Signal.__table__.c.id == target.signal_id).values(change_position=None))


class WebhookSubscription(Base):
    """A partner organisation's push target (webhooks/): where, which events, which format.
    The signing secret is stored encrypted (field `webhookSecret`); during a rotation's
    overlap the previous one signs too, until `previous_secret_until`."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100), index=True)
    target_url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[str] = mapped_column(Text)  # JSON list
    format: Mapped[str] = mapped_column(String(30))  # standard-webhooks | zgw
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEvent(Base):
    """The webhooks' own outbox: a notification for one organisation, written in the same
    transaction as the change it tells of. The dispatcher fans it out to that organisation's
    subscriptions (`fanned_out_at`). Ids and a resource path only, never personal data."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(50))
    organisation: Mapped[str] = mapped_column(String(100))
    ordering_key: Mapped[str] = mapped_column(String(36))  # the referral (or signal) id
    data: Mapped[str] = mapped_column(Text)  # JSON: ids, resource path, occurredAt
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhook_events_unfanned", "id", sqlite_where=text(
        "fanned_out_at IS NULL"), postgresql_where=text("fanned_out_at IS NULL")),)


class WebhookDelivery(Base):
    """One event to one subscription: its `id` is the `webhook-id` of every attempt (and of
    a replay), so a receiver drops duplicates. A delivery waits while an earlier one for
    the same subscription and ordering key is pending: order holds per referral and target."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUIDString())
    event_seq: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(50))
    ordering_key: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_chain", "subscription_id", "ordering_key", "event_seq"),
        Index("ix_webhook_deliveries_log", "subscription_id", "event_seq"),
    )


class WebhookAttempt(Base):
    """The delivery log: one row per attempt (status code or error kind, latency)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(200))
