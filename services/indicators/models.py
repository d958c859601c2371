"""The indicators service's tables: the area register, signal facts, publication state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, UUIDString, service_metadata, utcnow
from shared.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = service_metadata()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class Area(Base):
    """An area of the CBS hierarchy (NL00, GM, WK, BU); the parent is derived from the code."""

    __tablename__ = "areas"
    __table_args__ = (Index("ix_areas_level_code", "level", "code"),)

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(10), index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AreaStatistics(Base):
    """Open statistics of an area for one year (CBS Kerncijfers); None is unknown, never 0."""

    __tablename__ = "area_statistics"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    inhabitants: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    dwellings: Mapped[int | None] = mapped_column(Integer)
    corporation_dwellings: Mapped[int | None] = mapped_column(Integer)
    corporation_dwellings_pct: Mapped[float | None] = mapped_column(Float)
    mean_woz_value: Mapped[float | None] = mapped_column(Float)
    low_income_households_pct: Mapped[float | None] = mapped_column(Float)
    bijstand_recipients: Mapped[int | None] = mapped_column(Integer)
    ww_recipients: Mapped[int | None] = mapped_column(Integer)
    ao_recipients: Mapped[int | None] = mapped_column(Integer)
    labour_participation_pct: Mapped[float | None] = mapped_column(Float)
    youth_care_pct: Mapped[float | None] = mapped_column(Float)


class ProgrammeArea(Base):
    """A named group of buurten chosen by a programme (e.g. an NPLV focus area)."""

    __tablename__ = "programme_areas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    gemeente_code: Mapped[str | None] = mapped_column(String(6))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProgrammeAreaMember(Base):
    __tablename__ = "programme_area_members"

    programme_area_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    buurt_code: Mapped[str] = mapped_column(String(10), primary_key=True, index=True)


class SignalFact(Base):
    """One signal as indicators know it: no person, only area, category, month, pseudonym.

    Kept per signal (not only as counters) so erasure, replays and recomputes are exact, and
    a late event lands in the month it was observed in.

    The pseudonym is kept only while a period that still changes needs it to count distinct
    households (`stream/retention.py`). When a period is settled, each household's count in it
    is carried by one of its facts (a bit in the `*_windows` columns), and once every period
    over the fact's month is settled the pseudonym is set to NULL: what is left are counts.
    Bit k (0-11) stands for the 12 months ending k months after the fact's month, bit 12 for
    the fact's own month.
    """

    __tablename__ = "signal_facts"
    # Covering, in GROUP BY order: a full recompute reads this index only, without sorting.
    __table_args__ = (Index("ix_signal_facts_area_household", "area_code",
                            "household_stats_pseudonym", "month", "category", "acute",
                            "record_key", "recorded_at"),)

    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(10))
    acute: Mapped[bool] = mapped_column(Boolean, default=False)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of observation
    household_stats_pseudonym: Mapped[str | None] = mapped_column(String(64))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The recording organisation: those who record signals see live counts of their own only.
    organisation: Mapped[str | None] = mapped_column(String(100))
    # The household's record key of the cell-key method (services.indicators.cellkey).
    record_key: Mapped[int | None] = mapped_column(BigInteger)
    # Settled periods in which this fact carries its household's count (see above).
    household_windows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # ... its household's count in the fact's category.
    category_windows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # ... its household as stacked (signals in >= 2 categories in those 12 months).
    stacked_windows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SettledPeriod(Base):
    """A last month whose periods (`month:` and `rolling-12m:`) no longer change: no signal
    observed in them can still arrive, so their household counts are kept as bits on the
    facts and the pseudonyms they needed can go."""

    __tablename__ = "settled_periods"

    last_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignalTombstone(Base):
    """An erased signal: a recorded or escalated event arriving after its erasure is dropped."""

    __tablename__ = "signal_tombstones"

    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AcuteEscalation(Base):
    """A signal escalated as acute; kept apart so an escalation may arrive before its signal."""

    __tablename__ = "acute_escalations"

    signal_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DirtyArea(Base):
    """A buurt whose facts changed since its indicators were last published (debounce queue)."""

    __tablename__ = "dirty_areas"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublishedIndicators(Base):
    """What was last published for an area, so an unchanged area is not published again."""

    __tablename__ = "published_indicators"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(30))
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AreaGeometry(Base):
    """An area's outline for maps: a GeoJSON geometry in WGS84, simplified for display.

    Kept apart from `areas`: a map may arrive before or after the statistics, and an outline
    is large while area rows are read everywhere. `gemeente_code` lets a map of every buurt of
    a municipality be one indexed read.
    """

    __tablename__ = "area_geometries"
    __table_args__ = (
        Index("ix_area_geometries_level_gemeente", "level", "gemeente_code", "code"),
        Index("ix_area_geometries_level_parent", "level", "parent_code", "code"),
    )

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(String(10))
    gemeente_code: Mapped[str | None] = mapped_column(String(6))
    name: Mapped[str | None] = mapped_column(String(200))
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON geometry object, WGS84 lon/lat
    source: Mapped[str] = mapped_column(String(200))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SnapshotMark(Base):
    """A buurt whose facts of one month changed since the stored snapshots were last updated.

    The snapshot worker (`services.indicators.snapshots`) updates every stored period the
    month counts in (as period, as previous period of a trend, or in the stacking window).
    `code` "*" marks a change of the register or the open statistics: every stored period is
    computed again.
    """

    __tablename__ = "snapshot_marks"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IndicatorSnapshot(Base):
    """The stored indicators of one period: what every reader reads (reads never compute).

    `seq` grows with every write of the period (of any area row or the index); readers keep
    the newest `seq` they loaded and read only the area rows written after it. A full
    recompute starts a new `generation`: readers then load the period again whole.
    """

    __tablename__ = "indicator_snapshots"

    period: Mapped[str] = mapped_column(String(30), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    method_version: Mapped[str] = mapped_column(String(30))
    # The buurten's vulnerability index and its rank stability (JSON), rewritten whole.
    vulnerability_index: Mapped[str] = mapped_column(Text)
    index_seq: Mapped[int] = mapped_column(BigInteger)
    # Raw counts stored (and their marks cleared) whose public cells or index are not: the
    # worker builds the period again if it no longer holds it (let go, or stopped).
    public_behind: Mapped[bool] = mapped_column(Boolean, default=False,
                                                server_default=false())


class SnapshotArea(Base):
    """One area's stored indicators in one period: public cells and raw values (JSON)."""

    __tablename__ = "indicator_snapshot_areas"
    __table_args__ = (Index("ix_indicator_snapshot_areas_period_seq", "period", "seq"),)

    period: Mapped[str] = mapped_column(String(30), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(BigInteger)
    # [[value, reason], ...] and [raw value, ...], both in the order of the definitions.
    public: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))


class SnapshotRequest(Base):
    """A period a reader asked for that has no stored snapshot yet: the worker computes it."""

    __tablename__ = "indicator_snapshot_requests"

    period: Mapped[str] = mapped_column(String(30), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
