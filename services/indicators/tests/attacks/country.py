"""The random countries of the property attacker: buurten of households with signals."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Household:
    key: int
    # month -> category -> (signals, of which acute)
    visits: dict[str, dict[str, tuple[int, int]]]


@dataclass(frozen=True)
class Country:
    buurten: dict[str, list[Household]]
    programme_areas: dict[str, list[str]]
    corporation_dwellings: dict[str, int]
