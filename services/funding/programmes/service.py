"""Creating and reading programmes."""

from __future__ import annotations

import uuid

import orjson
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding import audit
from services.funding.allocation import InfeasibleAllocation, NeedRule, allocate
from services.funding.models import Programme
from services.funding.programmes import repository
from services.funding.programmes.schemas import Pool, ProgrammeCreate, ProgrammeRead
from services.funding.scenarios.compute import area_inputs, units_of
from services.funding.scenarios.repository import load_world
from shared.auth import Forbidden, Principal
from shared.problems import Conflict, NotFound, Unprocessable

POOLS = TypeAdapter(list[Pool])


def pools_of(programme: Programme) -> list[Pool]:
    return POOLS.validate_json(programme.pools_json)


def read(programme: Programme) -> ProgrammeRead:
    pools = pools_of(programme)
    return ProgrammeRead(
        id=programme.id, name=programme.name, currency="EUR",
        first_year=programme.first_year, last_year=programme.last_year, pools=pools,
        annual_total_cents=sum(p.annual_amount_cents for p in pools),
        organisation=programme.organisation, pools_edited_by=programme.pools_edited_by,
        created_by=programme.created_by, created_at=programme.created_at,
    )


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


async def check_feasible(session: AsyncSession, pools: list[Pool]) -> None:
    """Judge floors and caps against the areas known now (none known: nothing to judge)."""
    world = await load_world(session)
    for pool in pools:
        units, _ = units_of(pool, pool.formula, world)
        if not units:
            continue
        formula = pool.formula
        rule = NeedRule()  # feasibility of bounds does not depend on the need's shape
        try:
            allocate(pool.annual_amount_cents, area_inputs(units, formula), rule)
        except InfeasibleAllocation as exc:
            if exc.constraint.value in {"floors", "caps", "fixed"}:
                raise infeasible(exc, pool.name) from exc


async def create(session: AsyncSession, body: ProgrammeCreate, actor: str, organisation: str
                 ) -> tuple[Programme, bool]:
    """The new programme of `organisation` (True), or the same one again on a replay (False)."""
    pools_json = orjson.dumps([p.model_dump(mode="json", by_alias=True)
                               for p in body.pools]).decode()
    existing = await repository.by_name(session, body.name)
    if existing is not None:
        same = (existing.first_year, existing.last_year, pools_of(existing)) == (
            body.first_year, body.last_year, body.pools)
        if not same or existing.organisation != organisation:
            raise Conflict(f"a different programme named {body.name!r} exists")
        return existing, False
    await check_feasible(session, body.pools)
    programme = Programme(
        id=uuid.uuid4(), name=body.name, currency=body.currency, first_year=body.first_year,
        last_year=body.last_year, pools_json=pools_json, organisation=organisation,
        pools_edited_by=actor, created_by=actor)
    session.add(programme)
    audit.record(session, programme.id, "programme-created", actor, name=body.name,
                 organisation=organisation)
    return programme, True


async def get(session: AsyncSession, programme_id: uuid.UUID) -> Programme:
    programme = await repository.get(session, programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    return programme
