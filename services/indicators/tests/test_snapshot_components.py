"""Disclosure one component at a time gives exactly what one run over the country gives."""

from __future__ import annotations

import random

import pytest

from services.indicators.computation.cells import disclose_counts
from services.indicators.computation.engine import SignalCounts, roll_up
from services.indicators.disclosure import DisclosedValue
from services.indicators.snapshots.components import Components, Protection, changed_cells

CATEGORIES = ("rent-arrears", "nuisance", "loneliness")


def country(rng: random.Random, gemeenten: int, small: bool
            ) -> tuple[dict[str, SignalCounts], dict[str, list[str]]]:
    """Buurt counts of a random country (small: many counts of 1-4) and programme areas."""
    buurten: dict[str, SignalCounts] = {}
    codes = []
    for g in range(gemeenten):
        for w in range(rng.randint(1, 3)):
            for b in range(rng.randint(1, 4)):
                code = f"BU{1000 + g:04d}{w:02d}{b:02d}"
                codes.append(code)
                top = 6 if small else 60
                households = rng.randint(0, top)
                by_category = {c: rng.randint(0, households) for c in CATEGORIES
                               if households and rng.random() < 0.7}
                buurten[code] = SignalCounts(
                    signals=households + rng.randint(0, 3), households=households,
                    acute=rng.randint(0, min(households, 3)),
                    stacked=rng.randint(0, households // 2), stack_base=households,
                    previous_households=rng.randint(0, top), by_category=by_category,
                    keys={"signals": rng.getrandbits(32), "households": rng.getrandbits(32)},
                    by_category_keys={c: rng.getrandbits(32) for c in by_category})
    programmes = {f"PA-p{i}": sorted(rng.sample(codes, rng.randint(1, min(6, len(codes)))))
                  for i in range(rng.randint(0, 3))}
    return buurten, programmes


def same(a: dict[str, DisclosedValue], b: dict[str, DisclosedValue]) -> bool:
    zero = DisclosedValue.published(0)
    return all(a.get(k, zero) == b.get(k, zero) for k in {*a, *b})


@pytest.mark.parametrize("seed", range(80))
def test_components_give_what_the_whole_country_gives(seed: int) -> None:
    rng = random.Random(seed)
    buurten, programmes = country(rng, rng.randint(2, 12), small=seed % 2 == 0)
    counts = roll_up(buurten, programmes, [])
    protection = Protection(counts, Components(counts, programmes))
    assert_same(protection.cells, disclose_counts(counts, programmes))
    # Buurten changing, one to three at a time, each protected again in its component only
    # and for the cells it changed, give what the whole run gives every time (gemeenten
    # coupled and uncoupled again).
    for _ in range(4):
        changes = {}
        for changed in rng.sample(sorted(buurten), rng.randint(1, min(3, len(buurten)))):
            old = buurten[changed]
            new = SignalCounts(
                signals=old.signals + rng.randint(-old.signals, 3),
                households=rng.randint(0, 8), acute=rng.randint(0, 2), stack_base=1,
                by_category={c: rng.randint(1, 5) for c in rng.sample(CATEGORIES, 2)},
                keys={"signals": rng.getrandbits(32), "acute": rng.getrandbits(32)})
            buurten[changed] = new
            changes[changed] = changed_cells(old, new)
        counts = roll_up(buurten, programmes, [])
        protection.update(counts, changes)
        assert_same(protection.cells, disclose_counts(counts, programmes))
    # A buurt with its first signals, in a gemeente that had none and in one that had.
    for fresh in ("BU99990101", next(iter(sorted(buurten)))[:8] + "99"):
        buurten[fresh] = SignalCounts(signals=3, households=2, by_category={"nuisance": 2},
                                      keys={"signals": 11, "households": 5})
        counts = roll_up(buurten, programmes, [])
        protection.update(counts, {fresh: changed_cells(SignalCounts(), buurten[fresh])})
        assert_same(protection.cells, disclose_counts(counts, programmes))


def assert_same(parts: dict[str, dict[str, DisclosedValue]],
                whole: dict[str, dict[str, DisclosedValue]]) -> None:
    assert set(parts) == set(whole)
    for code in whole:
        assert same(parts[code], whole[code]), (code, parts[code], whole[code])


def test_a_programme_area_across_a_border_joins_both_gemeenten() -> None:
    components = Components(["BU10000101", "BU20000101", "BU30000101"],
                            {"PA-x": ["BU10000101", "BU20000101"]})
    assert components.of("GM1000") == components.of("WK200001") == components.of("PA-x")
    assert components.of("BU30000101") != components.of("BU10000101")
    assert components.of("NL00") is None
