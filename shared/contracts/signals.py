"""Topic `signals.v1`, owned by the signals service. Key: the buurt code.

Thin events: never an address, name, note, amount or operational pseudonym. Households are
represented only by `householdStatsPseudonym`, a keyed HMAC made with the statistics-only key,
so indicators can count distinct households but cannot link back to one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from shared.events import EventData, EventType, event_type_name

TOPIC = "signals.v1"
#: The access log's checkpoints: read back only by signals, to verify its log against them.
ACCESS_LOG_CHECKPOINT_TOPIC = "access-log-checkpoints.v1"
ACCESS_LOG_CHECKPOINT_KEY = "access-log"


class SignalRecorded(EventData):
    signal_id: UUID
    category: str
    subcategory: str | None = None
    severity: str
    area_code: str = Field(description="CBS buurt code")
    observed_at: datetime
    recorded_at: datetime
    organisation: str = Field(description="The reporting organisation (a corporation)")
    household_stats_pseudonym: str = Field(description="Statistics-only household pseudonym")
    synthetic: bool = False


class SignalStatusChanged(EventData):
    signal_id: UUID
    area_code: str
    category: str
    from_status: str
    to_status: str
    changed_at: datetime
    version: int = Field(description="The signal's version after the change (orders changes)")


class SignalReferred(EventData):
    signal_id: UUID
    referral_id: UUID
    area_code: str
    category: str
    partner_organisation: str
    purpose: str
    referred_at: datetime


class ReferralWithdrawn(EventData):
    """The reporting corporation withdrew a referral, or the consent it rested on was
    withdrawn: the partner must stop using it."""

    signal_id: UUID
    referral_id: UUID
    area_code: str
    category: str
    partner_organisation: str
    purpose: str
    withdrawn_at: datetime


class ReferralStepTaken(EventData):
    """A step in a referral's life cycle: ids only (no reason, outcome or note; a consumer
    that needs them reads the referral over the API with its own token)."""

    signal_id: UUID
    referral_id: UUID
    area_code: str
    organisation: str = Field(description="The reporting organisation (a corporation)")
    partner_organisation: str
    at: datetime


class ReferralAccepted(ReferralStepTaken):
    """The partner took the referral on (in behandeling)."""


class ReferralHandedBack(ReferralStepTaken):
    """The partner gave the referral back to the reporting corporation."""


class ReferralOutcomeRecorded(ReferralStepTaken):
    """The partner recorded how its contact with the household ended."""


class SignalEscalated(EventData):
    signal_id: UUID
    area_code: str
    category: str
    severity: str
    escalated_at: datetime


class SignalErased(EventData):
    """A household's signal was erased: consumers forget it by its id.

    Version 2 no longer names the statistics pseudonym: consumers hold it with the signal id
    they got in `signal-recorded`, and an erasure event that repeated it would keep the
    erased household's pseudonym in the producer's outbox.
    """

    signal_id: UUID
    area_code: str
    erased_at: datetime


class SignalErasedV1(EventData):
    """Version 1 of `signal-erased`: still read (it is on the topic), no longer sent."""

    signal_id: UUID
    area_code: str
    household_stats_pseudonym: str
    erased_at: datetime


class AccessLogCheckpointed(EventData):
    """Where the access log's keyed hash chain stood: no personal data, no organisation.

    A verification compares the chain in the database with the latest of these, so entries
    removed from its end, or a chain rewritten before this point, are found.
    """

    sequence: int = Field(description="The head entry's place in the chain, counted from 1: "
                                      "the number of entries logged up to it")
    entry_hash: str = Field(description="The head entry's keyed hash (64 hex characters)")
    checkpointed_at: datetime


def _t(name: str) -> str:
    return event_type_name("signals", name)


SIGNAL_RECORDED = EventType(_t("signal-recorded"), TOPIC, SignalRecorded,
                            "A doorstep signal was recorded")
SIGNAL_STATUS_CHANGED = EventType(_t("signal-status-changed"), TOPIC, SignalStatusChanged,
                                  "A signal moved to another workflow state")
SIGNAL_REFERRED = EventType(_t("signal-referred"), TOPIC, SignalReferred,
                            "A signal was referred to a partner on a recorded legal basis")
REFERRAL_WITHDRAWN = EventType(_t("referral-withdrawn"), TOPIC, ReferralWithdrawn,
                                "A referral was withdrawn by the reporting corporation, or "
                                "with the consent it rested on")
REFERRAL_ACCEPTED = EventType(_t("referral-accepted"), TOPIC, ReferralAccepted,
                              "A partner accepted a referral (in behandeling)")
REFERRAL_HANDED_BACK = EventType(_t("referral-handed-back"), TOPIC, ReferralHandedBack,
                                 "A partner handed a referral back to the reporting "
                                 "corporation")
REFERRAL_OUTCOME_RECORDED = EventType(_t("referral-outcome-recorded"), TOPIC,
                                      ReferralOutcomeRecorded,
                                      "A partner recorded the outcome of a referral")
SIGNAL_ESCALATED = EventType(_t("signal-escalated"), TOPIC, SignalEscalated,
                             "An acute unsafe situation or care need needs action now")
SIGNAL_ERASED = EventType(event_type_name("signals", "signal-erased", 2), TOPIC, SignalErased,
                          "A signal was erased; forget it and its household's statistics "
                          "pseudonym")
SIGNAL_ERASED_V1 = EventType(_t("signal-erased"), TOPIC, SignalErasedV1,
                             "Deprecated, no longer sent (see signal-erased v2): a signal was "
                             "erased; forget its household's statistics pseudonym")
ACCESS_LOG_CHECKPOINTED = EventType(
    _t("access-log-checkpointed"), ACCESS_LOG_CHECKPOINT_TOPIC, AccessLogCheckpointed,
    "The access log's head at a moment, kept outside the signals database",
    key=f"always `{ACCESS_LOG_CHECKPOINT_KEY}` (one ordered series, one partition)")

EVENT_TYPES: list[EventType[Any]] = [
    SIGNAL_RECORDED, SIGNAL_STATUS_CHANGED, SIGNAL_REFERRED, SIGNAL_ESCALATED, SIGNAL_ERASED,
    SIGNAL_ERASED_V1, REFERRAL_WITHDRAWN, REFERRAL_ACCEPTED, REFERRAL_HANDED_BACK,
    REFERRAL_OUTCOME_RECORDED, ACCESS_LOG_CHECKPOINTED,
]
