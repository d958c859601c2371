"""The indicators service's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, UUIDString, new_base, utcnow
from shared.outbox import OutboxMixin

Base = new_base()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class SignalFact(Base):
    """One signal as indicators know it: no person, only area, category, month, pseudonym.

    Kept per signal (not only as counters) so erasure, replays and recomputes are exact.
    """

    __tablename__ = "signal_facts"
    __table_args__ = (Index("ix_signal_facts_area_month", "area_code", "month"),)

    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(10))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of observation
    household_stats_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
