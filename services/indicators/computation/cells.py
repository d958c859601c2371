"""An area's counts as the cells disclosure control protects: their names, the groups they
form (the CBS hierarchy and the programme areas) and their protection over all areas at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from services.indicators.computation import definitions as d
from services.indicators.disclosure import DisclosedValue
from services.indicators.suppression import disclose_groups
from shared.areacodes import NATIONAL_CODE, AreaLevel, area_level

if TYPE_CHECKING:
    from services.indicators.computation.engine import SignalCounts

# The protected counts besides the published ones, by their names in `SignalCounts.keys`.
PREVIOUS, STACKED, STACK_BASE = "previous_households", "stacked", "stack_base"
# Every protected count (but the categories'): its cell name -> its `SignalCounts` field.
FIELDS = {d.SIGNALS: "signals", d.SIGNALLED_HOUSEHOLDS: "households",
          d.ACUTE_ESCALATIONS: "acute", PREVIOUS: PREVIOUS, STACKED: STACKED,
          STACK_BASE: STACK_BASE}


def disclose_counts(
    counts: Mapping[str, SignalCounts], programme_areas: Mapping[str, Iterable[str]],
) -> dict[str, dict[str, DisclosedValue]]:
    """Every area's protected counts: the CBS hierarchy and the programme areas protected
    together (`disclose_groups`), one count at a time, each perturbed by its cell key."""
    groups = cell_groups(counts, programme_areas)
    out: dict[str, dict[str, DisclosedValue]] = {code: {} for code in counts}
    done: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, DisclosedValue]] = {}
    for name, values, keys in count_cells(counts):
        # The same counts with the same keys are the same cells (the base of stacking is the
        # period's households for rolling periods): protected once, published alike.
        signature = (tuple(values.values()), tuple(keys.values()))
        if signature not in done:
            done[signature] = disclose_groups(values, groups, keys)
        for code, cell in done[signature].items():
            out[code][name] = cell
    return out


def cell_groups(codes: Iterable[str], programme_areas: Mapping[str, Iterable[str]]
                ) -> dict[str, list[str]]:
    """The groups of `disclose_groups` among `codes`: each parent and its parts."""
    codes = list(codes)
    groups: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        level = area_level(code)
        if level is AreaLevel.BUURT:
            groups["WK" + code[2:8]].append(code)
        elif level is AreaLevel.WIJK:
            groups["GM" + code[2:6]].append(code)
        elif level is AreaLevel.GEMEENTE:
            groups[NATIONAL_CODE].append(code)
    for programme_id, buurten in programme_areas.items():
        groups[programme_id] = sorted(set(buurten))
    present = set(codes)
    return {parent: kids for parent, kids in groups.items() if parent in present}


def count_cells(counts: Mapping[str, SignalCounts], names: Collection[str] | None = None
                ) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """(cell name, count per area, cell key per area) of every protected count (of those in
    `names` only, when given)."""
    cells: list[tuple[str, dict[str, int], dict[str, int]]] = [
        (name, {code: getattr(c, f) for code, c in counts.items()},
         {code: c.keys.get(f, 0) for code, c in counts.items()})
        for name, f in FIELDS.items() if names is None or name in names]
    categories = sorted({x for c in counts.values() for x in c.by_category})
    cells += [(category_cell(x), {code: c.by_category.get(x, 0) for code, c in counts.items()},
               {code: c.by_category_keys.get(x, 0) for code, c in counts.items()})
              for x in categories if names is None or category_cell(x) in names]
    return cells


def changed_cells(old: SignalCounts, new: SignalCounts) -> set[str]:
    """The cells (by the names of `count_cells`) whose count or key differs."""
    out = {name for name, f in FIELDS.items()
           if getattr(old, f) != getattr(new, f) or old.keys.get(f, 0) != new.keys.get(f, 0)}
    for x in {*old.by_category, *new.by_category}:
        if (old.by_category.get(x, 0) != new.by_category.get(x, 0)
                or old.by_category_keys.get(x, 0) != new.by_category_keys.get(x, 0)):
            out.add(category_cell(x))
    return out


def category_cell(category: str) -> str:
    return f"category:{category}"
