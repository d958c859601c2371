"""What a scenario is computed from: areas, programme areas and indicators, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AreaFacts:
    code: str
    level: str
    name: str
    parent_code: str | None
    programme_area_ids: tuple[str, ...]
    # The latest known value of each base (inhabitants, households, corporation-dwellings).
    bases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProgrammeAreaFacts:
    id: str
    name: str
    gemeente_code: str | None
    buurt_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IndicatorFacts:
    composite_score: Decimal | None
    composite_decile: int | None
    values: dict[str, Decimal | None]
    method_version: str
    period: str


@dataclass(slots=True)
class World:
    areas: dict[str, AreaFacts]
    programme_areas: dict[str, ProgrammeAreaFacts]
    indicators: dict[str, IndicatorFacts]

    def gemeente_of(self, buurt_code: str) -> str | None:
        """The gemeente of a buurt: by the register's parents, else by the CBS code's digits."""
        wijk = self.wijk_of(buurt_code)
        area = self.areas.get(wijk) if wijk else None
        if area is not None and area.parent_code:
            return area.parent_code
        if buurt_code.startswith("BU") and len(buurt_code) == 10:
            return "GM" + buurt_code[2:6]
        return None

    def wijk_of(self, buurt_code: str) -> str | None:
        area = self.areas.get(buurt_code)
        if area is not None and area.parent_code:
            return area.parent_code
        if buurt_code.startswith("BU") and len(buurt_code) == 10:
            return "WK" + buurt_code[2:8]
        return None
