"""The funding service's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, new_base, utcnow
from shared.outbox import OutboxMixin

Base = new_base()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class AreaIndicatorInput(Base):
    """The latest disclosure-controlled indicators of an area, as `indicators.v1` told us."""

    __tablename__ = "area_indicator_inputs"

    area_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(40))
    method_version: Mapped[str] = mapped_column(String(40))
    values_json: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
