"""Demo and benchmark data for the area register: real places, synthetic figures.

`generate_demo` gives the 20 NPLV focus areas (2022) as programme areas in their real
municipalities, each made of synthetic wijken and buurten with synthetic statistics, plus a
pool of non-focus buurten in the same and a few other municipalities, some of them vulnerable,
so that "other vulnerable areas" has something to choose from. `generate_national` gives a
whole synthetic country (about 342 gemeenten, 3,200 wijken, 14,000 buurten) for benchmarks.

Every area is marked `synthetic=True` and every wijk and buurt name says it is synthetic: only
the municipality names and gemeente codes of the demo are real (a demo gemeente's figures
cover only its demo buurten, not the real municipality). Demo wijk codes use wijk parts
X0..XZ, which CBS rarely uses, to make a collision with a real wijk unlikely (not impossible):
never load demo data next to a real CBS import. The benchmark country uses gemeente codes
GM9001 and up, which CBS does not use, and base-36 wijk and buurt parts.

Figures come from one latent vulnerability per buurt (0 is a typical Dutch buurt, higher is
more vulnerable) plus noise, with a small trend per year. Buurt totals are summed up to wijk,
gemeente and nation before publishing, so the levels agree; publishing then mimics CBS:
counts of people and households rounded to multiples of 5, benefit counts under 10 and every
rate of a buurt under 200 inhabitants suppressed (None, never zero). Same seed, same data.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from services.indicators.cbs_cells import AreaStats, StatName
from shared.areacodes import NATIONAL_CODE, AreaLevel, programme_area_id

DEFAULT_SEED = 2022
DEFAULT_YEARS: tuple[int, ...] = (2021, 2022, 2023, 2024)
FOCUS_WIJKEN_PER_AREA = 3
NON_FOCUS_WIJKEN_PER_FOCUS_GEMEENTE = 2
WIJKEN_PER_OTHER_GEMEENTE = 3
BUURTEN_PER_WIJK = 5
SMALL_BUURT_INHABITANTS = 200  # rates of smaller buurten are suppressed
SMALL_GROUP = 10  # benefit counts below this are suppressed


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class FocusArea:
    """An NPLV focus area (2022) and the municipality it lies in."""

    name: str
    municipality: Municipality

    @property
    def id(self) -> str:
        return programme_area_id(self.name)


# CBS gemeente codes as used 2022-2025; the names are the CBS municipality names (Den Haag is
# "'s-Gravenhage" in CBS files). All codes are long-standing; Roosendaal has been GM1674 since
# the 1997 merger with Nispen and Wouw. Checked against common knowledge, not against a
# downloaded CBS code list, so verify before production use.
NPLV_FOCUS_AREAS: tuple[FocusArea, ...] = (
    FocusArea("Leeuwarden-Oost", Municipality("GM0080", "Leeuwarden")),
    FocusArea("Groningen Noord", Municipality("GM0014", "Groningen")),
    FocusArea("Arnhem Oost", Municipality("GM0202", "Arnhem")),
    FocusArea("Heerlen Noord", Municipality("GM0917", "Heerlen")),
    FocusArea("Breda Noord", Municipality("GM0758", "Breda")),
    FocusArea("Eindhoven Woensel-Zuid", Municipality("GM0772", "Eindhoven")),
    FocusArea("Tilburg Noordwest", Municipality("GM0855", "Tilburg")),
    FocusArea("Schiedam Nieuwland-Oost", Municipality("GM0606", "Schiedam")),
    FocusArea("Rotterdam-Zuid", Municipality("GM0599", "Rotterdam")),
    FocusArea("Den Haag Zuidwest", Municipality("GM0518", "'s-Gravenhage")),
    FocusArea("Amsterdam Zuidoost", Municipality("GM0363", "Amsterdam")),
    FocusArea("Amsterdam Nieuw-West", Municipality("GM0363", "Amsterdam")),
    FocusArea("Zaandam Oost", Municipality("GM0479", "Zaanstad")),
    FocusArea("Lelystad Oost", Municipality("GM0995", "Lelystad")),
    FocusArea("Utrecht Overvecht", Municipality("GM0344", "Utrecht")),
    FocusArea("Nieuwegein Centrale-As", Municipality("GM0356", "Nieuwegein")),
    FocusArea("Vlaardingen West", Municipality("GM0622", "Vlaardingen")),
    FocusArea("Delft West", Municipality("GM0503", "Delft")),
    FocusArea("Dordrecht West", Municipality("GM0505", "Dordrecht")),
    FocusArea("Roosendaal", Municipality("GM1674", "Roosendaal")),
)

# Municipalities without a focus area, for the pool of other (possibly vulnerable) buurten.
OTHER_DEMO_MUNICIPALITIES: tuple[Municipality, ...] = (
    Municipality("GM0153", "Enschede"),
    Municipality("GM0193", "Zwolle"),
    Municipality("GM0935", "Maastricht"),
    Municipality("GM0268", "Nijmegen"),
    Municipality("GM0400", "Den Helder"),
    Municipality("GM0928", "Kerkrade"),
)


@dataclass(frozen=True, slots=True)
class DemoArea:
    """An area of the demo register with its statistics per year."""

    code: str
    level: AreaLevel
    name: str
    parent_code: str | None
    synthetic: bool
    stats: dict[int, AreaStats]


@dataclass(frozen=True, slots=True)
class DemoProgrammeArea:
    """A programme area: a named group of buurten in one municipality."""

    id: str
    name: str
    gemeente_code: str
    buurt_codes: tuple[str, ...]
    synthetic: bool = True  # the name is real, the buurten in it are not


@dataclass(frozen=True, slots=True)
class DemoDataset:
    seed: int
    years: tuple[int, ...]
    areas: tuple[DemoArea, ...]
    programme_areas: tuple[DemoProgrammeArea, ...] = ()

    def by_level(self, level: AreaLevel) -> tuple[DemoArea, ...]:
        return tuple(a for a in self.areas if a.level is level)


def generate_demo(seed: int = DEFAULT_SEED, years: Sequence[int] = DEFAULT_YEARS) -> DemoDataset:
    """The 20 NPLV focus areas and a pool of other buurten, all with synthetic figures."""
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not secrets)
    builder = _Builder(rng, years, label="demo", wijk_prefix="X", median_inhabitants=1_800)
    programme_areas: list[DemoProgrammeArea] = []
    focus_gemeenten = list(dict.fromkeys(area.municipality for area in NPLV_FOCUS_AREAS))
    for municipality in (*focus_gemeenten, *OTHER_DEMO_MUNICIPALITIES):
        price_level = rng.uniform(0.8, 1.4)
        builder.add_gemeente(municipality.code, municipality.name, price_level)
    for focus in NPLV_FOCUS_AREAS:
        area_level = rng.gauss(1.4, 0.25)
        buurten: list[str] = []
        for _ in range(FOCUS_WIJKEN_PER_AREA):
            wijk = builder.add_wijk(focus.municipality.code, suffix=f", {focus.name}")
            wijk_level = area_level + rng.gauss(0, 0.3)
            buurten += builder.add_buurten(wijk, BUURTEN_PER_WIJK, wijk_level, spread=0.4)
        programme_areas.append(
            DemoProgrammeArea(focus.id, focus.name, focus.municipality.code, tuple(buurten))
        )
    for municipality in focus_gemeenten:
        for _ in range(NON_FOCUS_WIJKEN_PER_FOCUS_GEMEENTE):
            _add_pool_wijk(builder, rng, municipality.code)
    for municipality in OTHER_DEMO_MUNICIPALITIES:
        for _ in range(WIJKEN_PER_OTHER_GEMEENTE):
            _add_pool_wijk(builder, rng, municipality.code)
    return DemoDataset(seed, tuple(years), builder.areas(), tuple(programme_areas))


def generate_national(
    n_buurten: int = 14_000,
    seed: int = DEFAULT_SEED,
    years: Sequence[int] = (DEFAULT_YEARS[-1],),
    n_gemeenten: int = 342,
) -> DemoDataset:
    """A synthetic country at national scale for benchmarks (no programme areas)."""
    if n_buurten < 1 or not 1 <= n_gemeenten <= 999:
        raise ValueError("need at least one buurt and between 1 and 999 gemeenten")
    n_gemeenten = min(n_gemeenten, n_buurten)
    n_wijken = min(n_buurten, max(n_gemeenten, round(n_buurten * 3_200 / 14_000)))
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not secrets)
    builder = _Builder(rng, years, label="synthetisch", wijk_prefix="", median_inhabitants=1_100)
    gemeenten = [f"GM{9001 + i:04d}" for i in range(n_gemeenten)]
    for i, code in enumerate(gemeenten):
        name = f"Synthetische gemeente {i + 1:03d} (synthetisch)"
        builder.add_gemeente(code, name, price_level=rng.uniform(0.7, 1.6))
    # Every gemeente gets a wijk and every wijk a buurt; the rest goes by random size.
    gemeente_size = [rng.lognormvariate(0, 1) for _ in gemeenten]
    wijk_owners = gemeenten + rng.choices(gemeenten, gemeente_size, k=n_wijken - n_gemeenten)
    wijk_owners.sort()
    gemeente_level = {code: rng.gauss(0, 0.35) for code in gemeenten}
    wijken = [builder.add_wijk(owner) for owner in wijk_owners]
    extra = rng.choices(range(len(wijken)), k=n_buurten - len(wijken))
    counts = [1] * len(wijken)
    for index in extra:
        counts[index] += 1
    for wijk, owner, count in zip(wijken, wijk_owners, counts, strict=True):
        level = gemeente_level[owner] + rng.gauss(0, 0.45)
        builder.add_buurten(wijk, count, level, spread=0.45, tiny_share=0.03)
    return DemoDataset(seed, tuple(years), builder.areas())


def _add_pool_wijk(builder: _Builder, rng: random.Random, gemeente_code: str) -> None:
    # About one pool wijk in four is vulnerable: candidates for "other vulnerable areas".
    vulnerable = rng.random() < 0.25
    level = rng.gauss(1.0, 0.3) if vulnerable else rng.gauss(-0.1, 0.35)
    builder.add_buurten(builder.add_wijk(gemeente_code), BUURTEN_PER_WIJK, level, spread=0.45)


@dataclass(slots=True)
class _Totals:
    """Additive quantities of an area in one year, so buurten sum up to higher levels."""

    inhabitants: float = 0.0
    households: float = 0.0
    dwellings: float = 0.0
    corporation_dwellings: float = 0.0
    woz_sum: float = 0.0  # mean WOZ value x dwellings
    low_income_households: float = 0.0
    bijstand: float = 0.0
    ww: float = 0.0
    ao: float = 0.0
    labour_weighted: float = 0.0  # participation pct x inhabitants
    youth_care_weighted: float = 0.0  # youth care pct x inhabitants

    def add(self, other: _Totals) -> None:
        for name in _TOTALS_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_TOTALS_FIELDS = tuple(f.name for f in fields(_Totals))


@dataclass(slots=True)
class _Node:
    code: str
    level: AreaLevel
    name: str
    parent_code: str | None
    totals: dict[int, _Totals] = field(default_factory=dict)  # buurten only
    children: int = 0


class _Builder:
    def __init__(
        self,
        rng: random.Random,
        years: Sequence[int],
        label: str,
        wijk_prefix: str,
        median_inhabitants: float,
    ) -> None:
        if not years or len(set(years)) != len(years):
            raise ValueError("years must be distinct and not empty")
        self._rng = rng
        self._years = tuple(years)
        self._label = label
        self._wijk_prefix = wijk_prefix
        self._log_median = math.log(median_inhabitants)
        self._price_level: dict[str, float] = {}
        self._nodes: dict[str, _Node] = {
            NATIONAL_CODE: _Node(NATIONAL_CODE, AreaLevel.NATIONAL, "Nederland", None)
        }

    def add_gemeente(self, code: str, name: str, price_level: float) -> None:
        self._nodes[code] = _Node(code, AreaLevel.GEMEENTE, name, NATIONAL_CODE)
        self._price_level[code] = price_level

    def add_wijk(self, gemeente_code: str, suffix: str = "") -> str:
        gemeente = self._nodes[gemeente_code]
        part = self._wijk_prefix + _base36(gemeente.children, 2 - len(self._wijk_prefix))
        gemeente.children += 1
        code = f"WK{gemeente_code[2:]}{part}"
        name = f"Synthetische wijk {part}{suffix} ({self._label})"
        self._nodes[code] = _Node(code, AreaLevel.WIJK, name, gemeente_code)
        return code

    def add_buurten(
        self, wijk_code: str, count: int, level: float, spread: float, tiny_share: float = 0.0
    ) -> list[str]:
        wijk = self._nodes[wijk_code]
        price_level = self._price_level["GM" + wijk_code[2:6]]
        codes: list[str] = []
        for _ in range(count):
            wijk.children += 1
            part = _base36(wijk.children, 2)
            code = f"BU{wijk_code[2:]}{part}"
            name = f"Synthetische buurt {wijk_code[6:]}{part} ({self._label})"
            node = _Node(code, AreaLevel.BUURT, name, wijk_code)
            vulnerability = level + self._rng.gauss(0, spread)
            tiny = self._rng.random() < tiny_share
            node.totals = self._buurt_totals(vulnerability, price_level, tiny)
            self._nodes[code] = node
            codes.append(code)
        return codes

    def areas(self) -> tuple[DemoArea, ...]:
        """Every area, national first and buurten last, each level sorted by code."""
        totals = {code: {year: _Totals() for year in self._years} for code in self._nodes}
        for level in (AreaLevel.BUURT, AreaLevel.WIJK, AreaLevel.GEMEENTE):
            for node in self._nodes.values():  # sum buurten up, one level at a time
                if node.level is not level or node.parent_code is None:
                    continue
                own = node.totals if level is AreaLevel.BUURT else totals[node.code]
                for year, year_totals in own.items():
                    totals[node.parent_code][year].add(year_totals)
        nodes = sorted(self._nodes.values(), key=lambda n: (_LEVEL_RANK[n.level], n.code))
        return tuple(
            DemoArea(
                code=n.code,
                level=n.level,
                name=n.name,
                parent_code=n.parent_code,
                synthetic=True,
                stats={
                    year: _publish(
                        n.totals[year] if n.level is AreaLevel.BUURT else totals[n.code][year],
                        n.level,
                    )
                    for year in self._years
                },
            )
            for n in nodes
        )

    def _buurt_totals(self, v: float, price_level: float, tiny: bool) -> dict[int, _Totals]:
        rng = self._rng
        base = rng.uniform(20, 180) if tiny else rng.lognormvariate(self._log_median, 0.45)
        trend = rng.gauss(0, 0.04)
        growth = rng.gauss(0.004, 0.006)
        household_size = _clip(2.2 - 0.05 * v + rng.gauss(0, 0.2), 1.3, 3.4)
        totals: dict[int, _Totals] = {}
        for year in self._years:
            t = year - min(self._years)
            vt = v + trend * t
            inhabitants = base * (1 + growth) ** t
            households = inhabitants / household_size
            dwellings = households * rng.uniform(1.0, 1.06)
            corporation_pct = _clip(28 + 16 * vt + rng.gauss(0, 5), 0, 98)
            woz = 330_000 * price_level * math.exp(-0.22 * vt + rng.gauss(0, 0.08))
            low_income_pct = _clip(7.5 + 4.0 * vt + rng.gauss(0, 1.0), 0.5, 60)
            labour_pct = _clip(68 - 5.0 * vt + rng.gauss(0, 1.5), 30, 85)
            youth_care_pct = _clip(10 + 2.5 * vt + rng.gauss(0, 1.0), 1, 35)
            totals[year] = _Totals(
                inhabitants=inhabitants,
                households=households,
                dwellings=dwellings,
                corporation_dwellings=dwellings * corporation_pct / 100,
                woz_sum=woz * dwellings,
                low_income_households=households * low_income_pct / 100,
                bijstand=inhabitants * 0.02 * math.exp(0.6 * vt + rng.gauss(0, 0.15)),
                ww=inhabitants * 0.012 * math.exp(0.25 * vt + rng.gauss(0, 0.15)),
                ao=inhabitants * 0.045 * math.exp(0.25 * vt + rng.gauss(0, 0.15)),
                labour_weighted=labour_pct * inhabitants,
                youth_care_weighted=youth_care_pct * inhabitants,
            )
        return totals


def _publish(t: _Totals, level: AreaLevel) -> AreaStats:
    """Totals to published figures, rounded and suppressed the way CBS does."""
    stats: AreaStats = dict.fromkeys(_STAT_NAMES)
    stats[StatName.INHABITANTS] = _round5(t.inhabitants)
    stats[StatName.HOUSEHOLDS] = _round5(t.households)
    stats[StatName.DWELLINGS] = round(t.dwellings)
    for stat, count in (
        (StatName.BIJSTAND_RECIPIENTS, t.bijstand),
        (StatName.WW_RECIPIENTS, t.ww),
        (StatName.AO_RECIPIENTS, t.ao),
    ):
        stats[stat] = _round5(count) if count >= SMALL_GROUP else None
    if t.inhabitants < SMALL_BUURT_INHABITANTS and level is AreaLevel.BUURT:
        return stats  # too few people: rates and WOZ stay unknown
    if t.dwellings > 0:
        stats[StatName.CORPORATION_DWELLINGS] = round(t.corporation_dwellings)
        stats[StatName.CORPORATION_DWELLINGS_PCT] = round(
            100 * t.corporation_dwellings / t.dwellings, 1
        )
        stats[StatName.MEAN_WOZ_VALUE] = 1_000 * round(t.woz_sum / t.dwellings / 1_000)
    if t.households > 0:
        stats[StatName.LOW_INCOME_HOUSEHOLDS_PCT] = round(
            100 * t.low_income_households / t.households, 1
        )
    if t.inhabitants > 0:
        stats[StatName.LABOUR_PARTICIPATION_PCT] = round(t.labour_weighted / t.inhabitants, 1)
        stats[StatName.YOUTH_CARE_PCT] = round(t.youth_care_weighted / t.inhabitants, 1)
    return stats


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_STAT_NAMES = tuple(StatName)  # iterating an enum is slow; this runs per area and year
_LEVEL_RANK = {AreaLevel.NATIONAL: 0, AreaLevel.GEMEENTE: 1, AreaLevel.WIJK: 2, AreaLevel.BUURT: 3}


def _base36(number: int, width: int) -> str:
    if not 0 <= number < 36**width:
        raise ValueError(f"{number} does not fit in {width} base-36 characters")
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 36)
        chars.append(_DIGITS[digit])
    return "".join(reversed(chars))


def _round5(value: float) -> int:
    return 5 * round(value / 5)


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
