"""Creating and reading programmes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding import audit
from services.funding.allocation import InfeasibleAllocation, NeedRule, allocate
from services.funding.compute import area_inputs, units_of
from services.funding.inputs.repository import load_world
from services.funding.models import Programme
from services.funding.programmes import repository
from services.funding.programmes.repository import definition_of, pools_of
from services.funding.programmes.schemas import (
    History,
    ProgrammeCreate,
    ProgrammePage,
)
from services.funding.programmes.views import history, programme_read
from shared.auth import Forbidden, Principal
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.problems import Conflict, NotFound, Unprocessable

__all__ = ["check_feasible", "create", "definition_of", "get", "infeasible", "page", "pools_of",
           "programme_history", "require_member"]


def require_member(programme: Programme, principal: Principal) -> None:
    """Only the owning organisation's officers and approvers change a programme's scenarios."""
    if principal.organisation != programme.organisation:
        raise Forbidden(f"programme {programme.id} belongs to {programme.organisation}: only "
                        "its own programme officers and approvers may change its scenarios")


def infeasible(exc: InfeasibleAllocation, pool: str) -> Unprocessable:
    """The 422 problem: which constraint, by how many cents, in which pool."""
    return Unprocessable(f"pool {pool!r}: {exc.detail}", pool=pool,
                         constraint=exc.constraint.value, shortfallCents=exc.cents,
                         poolCents=exc.pool_cents)


async def check_feasible(session: AsyncSession, body: ProgrammeCreate) -> None:
    """Judge floors and caps against the areas known now (none known: nothing to judge), in
    every distinct yearly amount of the schedule: floors bind in the leanest year, caps in
    the richest."""
    world = await load_world(session)
    for pool in body.pools:
        units, _ = units_of(pool, pool.formula, world)
        if not units:
            continue
        inputs = area_inputs(units, pool.formula)
        rule = NeedRule()  # feasibility of bounds does not depend on the need's shape
        for cents in sorted(set(pool.amounts(body.years).values())):
            try:
                allocate(cents, inputs, rule)
            except InfeasibleAllocation as exc:
                if exc.constraint.value in {"floors", "caps", "fixed"}:
                    raise infeasible(exc, pool.name) from exc


async def create(session: AsyncSession, body: ProgrammeCreate, actor: str, organisation: str
                 ) -> tuple[Programme, bool]:
    """The new programme of `organisation` (True), or the same one again on a replay (False)."""
    existing = await repository.by_name(session, body.name)
    if existing is not None:
        same = repository.definition_of(existing) == body
        if not same or existing.organisation != organisation:
            raise Conflict(f"a different programme named {body.name!r} exists")
        return existing, False
    await check_feasible(session, body)
    programme = Programme(
        id=uuid.uuid4(), name=body.name, currency=body.currency, first_year=body.first_year,
        last_year=body.last_year, organisation=organisation, pools_edited_by=actor,
        created_by=actor)
    repository.add(session, programme, body)
    audit.record(session, programme.id, "programme-created", actor, name=body.name,
                 organisation=organisation)
    return programme, True


async def get(session: AsyncSession, programme_id: uuid.UUID) -> Programme:
    programme = await repository.get(session, programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    return programme


async def page(session: AsyncSession, limit: int, cursor: str | None) -> ProgrammePage:
    after = None
    if cursor is not None:
        at, name = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(str(at)), str(name))
        except ValueError:
            raise invalid_cursor() from None
        if after[0].tzinfo is None:
            raise invalid_cursor()
    rows = await repository.page(session, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return ProgrammePage(
        items=[programme_read(p) for p in rows],
        next_cursor=encode_cursor(rows[-1].created_at.isoformat(), rows[-1].name)
        if more else None)


async def programme_history(session: AsyncSession, programme_id: uuid.UUID) -> History:
    await get(session, programme_id)
    return history(await audit.entries(session, programme_id=programme_id))
