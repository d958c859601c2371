"""All SQL of area maps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import Area, AreaGeometry


async def geometries_by_code(session: AsyncSession, codes: Iterable[str]
                             ) -> dict[str, AreaGeometry]:
    codes = list(set(codes))
    found: dict[str, AreaGeometry] = {}
    for i in range(0, len(codes), 500):
        rows = await session.scalars(
            select(AreaGeometry).where(AreaGeometry.code.in_(codes[i:i + 500])))
        found.update({g.code: g for g in rows})
    return found


async def registered_codes(session: AsyncSession, codes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(codes), 500):
        found.update(await session.scalars(
            select(Area.code).where(Area.code.in_(codes[i:i + 500]))))
    return found


async def geometries_of(session: AsyncSession, *, level: str, parent_code: str | None,
                        after: str = "", limit: int | None = None
                        ) -> Sequence[tuple[str, str | None, str | None, str, bool]]:
    """(code, parent code, name, GeoJSON geometry, synthetic) of one level in code order,
    within a parent: a gemeente (every wijk or buurt in it) or a wijk; from the code after
    `after` on, at most `limit`."""
    query = (select(AreaGeometry.code, AreaGeometry.parent_code,
                    AreaGeometry.name, AreaGeometry.geometry, AreaGeometry.synthetic)
             .where(AreaGeometry.level == level, AreaGeometry.code > after)
             .order_by(AreaGeometry.code).limit(limit))
    if parent_code is not None and parent_code.startswith("GM"):
        query = query.where(AreaGeometry.gemeente_code == parent_code)
    elif parent_code is not None and parent_code.startswith("WK"):
        query = query.where(AreaGeometry.parent_code == parent_code)
    rows = await session.execute(query)
    return [(str(c), p, n, str(g), bool(s)) for c, p, n, g, s in rows]


async def area_names(session: AsyncSession, codes: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(codes), 500):
        rows = await session.execute(
            select(Area.code, Area.name).where(Area.code.in_(codes[i:i + 500])))
        out.update({str(c): str(n) for c, n in rows})
    return out
