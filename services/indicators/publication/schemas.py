"""Snapshots on the wire."""

from __future__ import annotations

from uuid import UUID

from services.indicators.register.schemas import Schema


class SnapshotAccepted(Schema):
    """A snapshot written to the outbox; it reaches `indicators.v1` in `parts` messages."""

    snapshot_id: UUID
    period: str
    parts: int
    areas: int
