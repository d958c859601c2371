"""The funding service's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.consumer import InboxMixin
from shared.db import UTCDateTime, UUIDString, service_metadata, utcnow
from shared.outbox import OutboxMixin


class ScenarioStatus(StrEnum):
    """A draft changes (new versions); approval freezes it; publication announces it."""

    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class AreaIndicatorInput(Base):
    """The latest disclosure-controlled indicators of an area, as `indicators.v1` told us."""

    __tablename__ = "area_indicator_inputs"

    # 64: programme areas (PA-<slug>) get indicators too, not only CBS codes.
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(40))
    method_version: Mapped[str] = mapped_column(String(40))
    values_json: Mapped[str] = mapped_column(Text)
    # The composite as the exact decimal text of the float that travelled (never re-rounded).
    composite_score: Mapped[str | None] = mapped_column(String(40))
    composite_rank: Mapped[int | None] = mapped_column(Integer)
    composite_decile: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AreaIndicatorPeriod(Base):
    """An area's indicators for each period received: a budget year may use an older one."""

    __tablename__ = "area_indicator_periods"

    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    level: Mapped[str] = mapped_column(String(20))
    method_version: Mapped[str] = mapped_column(String(40))
    values_json: Mapped[str] = mapped_column(Text)
    composite_score: Mapped[str | None] = mapped_column(String(40))
    composite_rank: Mapped[int | None] = mapped_column(Integer)
    composite_decile: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Area(Base):
    """A CBS area as the area register (`areas.v1`) last described it."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(20), index=True)
    programme_area_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    statistics_json: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProgrammeArea(Base):
    """A named group of buurten (e.g. an NPLV focus area) as `areas.v1` last described it."""

    __tablename__ = "programme_areas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    gemeente_code: Mapped[str | None] = mapped_column(String(20))
    buurt_codes_json: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Programme(Base):
    """A funding programme: years and pools with their formulas (the definition is JSON)."""

    __tablename__ = "programmes"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    first_year: Mapped[int] = mapped_column(Integer)
    last_year: Mapped[int] = mapped_column(Integer)
    pools_json: Mapped[str] = mapped_column(Text)
    # Which indicator period each budget year uses (JSON, see IndicatorPeriod).
    indicator_periods_json: Mapped[str] = mapped_column(Text, default="[]")
    # Its officers draft scenarios and its approvers approve them; nobody else does.
    organisation: Mapped[str] = mapped_column(String(200), index=True)
    # Who last wrote the pools (the formulas among them): four eyes keeps them from approving.
    pools_edited_by: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Scenario(Base):
    """A computed allocation of a programme; drafts get new versions, approved ones freeze."""

    __tablename__ = "scenarios"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("programmes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stored as its value in a plain VARCHAR (no native enum type to migrate).
    status: Mapped[ScenarioStatus] = mapped_column(
        Enum(ScenarioStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the current ScenarioVersion
    # Bumped on every change: the ETag, so approval is of the version the approver saw.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    overrides_json: Mapped[str] = mapped_column(Text, default="{}")
    snapshot_json: Mapped[str | None] = mapped_column(Text)  # pinned inputs: never recomputed
    stale: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    drafted_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the approver approved: the version, the digest of the pinned inputs and the
    # overrides as they were at that moment (JSON, see scenarios.schemas.ApprovalRecord).
    approval_json: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScenarioVersion(Base):
    """One computation of a scenario, kept when a newer one replaces it."""

    __tablename__ = "scenario_versions"

    scenario_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("scenarios.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))  # created | edited | indicators-changed
    total_cents: Mapped[int] = mapped_column(BigInteger)
    area_count: Mapped[int] = mapped_column(Integer)
    method_versions: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScenarioLine(Base):
    """One line of a scenario version, keyed as it is paged: pool, theme, year, area.

    The keys are columns so a page or a filter is an index range; the rest of the line (the
    explanation of its amount) is the typed line as JSON.
    """

    __tablename__ = "scenario_lines"

    scenario_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    pool: Mapped[str] = mapped_column(String(100), primary_key=True)
    theme: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    cents: Mapped[int] = mapped_column(BigInteger)
    line_json: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["scenario_id", "version"],
                             ["scenario_versions.scenario_id", "scenario_versions.version"]),
        Index("ix_scenario_lines_area", "scenario_id", "version", "area_code"),
        Index("ix_scenario_lines_year", "scenario_id", "version", "year"),
    )


class ScenarioInput(Base):
    """Which areas' indicators a draft's current version used: who to recompute on change."""

    __tablename__ = "scenario_inputs"

    scenario_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString(), ForeignKey("scenarios.id"), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class AuditEntry(Base):
    """Append-only history of programmes and scenarios: who did what, when."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    programme_id: Mapped[uuid.UUID] = mapped_column(UUIDString(), index=True)
    scenario_id: Mapped[uuid.UUID | None] = mapped_column(UUIDString(), index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    detail_json: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
