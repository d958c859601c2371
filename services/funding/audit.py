"""The append-only history of programmes and scenarios."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import AuditEntry

SYSTEM = "system:indicators-changed"
DETAIL = TypeAdapter(dict[str, Any])


def record(session: AsyncSession, programme_id: uuid.UUID, action: str, actor: str,
           scenario_id: uuid.UUID | None = None, **detail: Any) -> None:
    """Add a history entry in the caller's transaction."""
    session.add(AuditEntry(programme_id=programme_id, scenario_id=scenario_id, action=action,
                           actor=actor, detail_json=DETAIL.dump_json(detail).decode()))


def detail_of(entry: AuditEntry) -> dict[str, Any]:
    return DETAIL.validate_json(entry.detail_json)


async def entries(session: AsyncSession, *, programme_id: uuid.UUID | None = None,
                  scenario_id: uuid.UUID | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if programme_id is not None:
        query = query.where(AuditEntry.programme_id == programme_id)
    if scenario_id is not None:
        query = query.where(AuditEntry.scenario_id == scenario_id)
    return list((await session.scalars(query)).all())


async def actors(session: AsyncSession, scenario_id: uuid.UUID, actions: set[str]) -> set[str]:
    """Who performed any of `actions` on a scenario."""
    query = select(AuditEntry.actor).where(AuditEntry.scenario_id == scenario_id,
                                           AuditEntry.action.in_(actions))
    return set((await session.scalars(query)).all())

