"""The signals service's tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, UUIDString, new_base, utcnow
from shared.outbox import OutboxMixin

Base = new_base()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class Signal(Base):
    """A doorstep signal. Personal fields are encrypted; the household is a pseudonym."""

    __tablename__ = "signals"
    __table_args__ = (Index("ix_signals_org_recorded", "organisation", "recorded_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(100))
    reported_by: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    subcategory: Mapped[str | None] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(10))
    area_code: Mapped[str] = mapped_column(String(10), index=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="new")
    version: Mapped[int] = mapped_column(Integer, default=1)
    household_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    household_stats_pseudonym: Mapped[str] = mapped_column(String(64))
    note_ciphertext: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
