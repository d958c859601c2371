"""Disclosure control one gemeente at a time, with the same outcome as the whole country at once.

Secondary suppression (`services.indicators.disclosure`) works on relations between cells.
Apart from the national total over the gemeenten, every relation lies inside one gemeente (its
wijken and buurten) or inside the gemeenten a programme area spans. Those gemeenten, joined
where a programme area crosses a border, are the components: no relation links two of them, so
each is protected on its own exactly as in one run over the country, and a change to a buurt
only needs its component protected again.

The national relation links them, one count at a time. Where it hides no gemeente (and the
national total is not small) the run over the country does nothing with it either. Where it
does, that count is protected again over the national relation (every gemeente) and the
components of the hidden gemeenten, adding the component of every gemeente the run withholds
until none is added: the same steps, in the same order, as the run over the country takes on
those cells (`tests/test_snapshot_components.py` checks this against that run).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from services.indicators.cellkey import perturb
from services.indicators.computation.cells import (
    cell_groups,
    changed_cells,
    count_cells,
    disclose_counts,
)
from services.indicators.computation.engine import SignalCounts
from services.indicators.disclosure import DisclosedValue, is_small_count
from services.indicators.suppression import disclose_groups
from shared.areacodes import NATIONAL_CODE, AreaLevel, area_level

PublicCounts = dict[str, dict[str, DisclosedValue]]
__all__ = ["Components", "Protection", "PublicCounts", "changed_cells", "protect"]


def gemeente_of(code: str) -> str | None:
    """The gemeente a CBS code lies in (None: the nation or a programme area)."""
    if area_level(code) in (AreaLevel.BUURT, AreaLevel.WIJK, AreaLevel.GEMEENTE):
        return "GM" + code[2:6]
    return None


class Components:
    """Which component (named by one of its gemeenten) every area belongs to."""

    def __init__(self, codes: Iterable[str], programme_areas: Mapping[str, Iterable[str]]
                 ) -> None:
        self.codes = list(codes)  # what it was made of (to make it again elsewhere)
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for code in self.codes:
            if (gemeente := gemeente_of(code)) is not None:
                find(gemeente)
        for programme_id, buurten in programme_areas.items():
            roots = sorted({find(g) for b in buurten if (g := gemeente_of(b)) is not None})
            root = find(roots[0] if roots else programme_id)
            for other in (*roots[1:], programme_id):
                parent[find(other)] = root
        self._find = find
        self._of: dict[str, str | None] = {}
        self.programme_areas = {k: list(v) for k, v in programme_areas.items()}

    def of(self, code: str) -> str | None:
        """The component of an area (None: the nation)."""
        if code not in self._of:
            key = gemeente_of(code) or (code if code in self.programme_areas else None)
            self._of[code] = None if key is None else self._find(key)
        return self._of[code]

    def members(self, codes: Iterable[str]) -> dict[str, list[str]]:
        """The codes of each component, in the order given."""
        out: dict[str, list[str]] = {}
        for code in codes:
            if (component := self.of(code)) is not None:
                out.setdefault(component, []).append(code)
        return out

    def programmes_among(self, codes: Iterable[str]) -> dict[str, list[str]]:
        return {c: self.programme_areas[c] for c in codes if c in self.programme_areas}


class Protection:
    """Every area's protected counts (`cells`), as `disclose_counts` over the whole country
    gives them, kept up to date one component at a time.

    `local` holds each component's own outcome; `cells` is that with, per count, the outcome
    of the national relation over the components it couples (`_coupled` remembers which
    areas those were, to go back to their own outcome when they are no longer coupled). An
    area's mapping in `cells` is replaced, never changed in place, when one of its cells is
    protected again (`state.py` tells which areas to derive again by that).
    """

    def __init__(self, counts: Mapping[str, SignalCounts], components: Components) -> None:
        self.components = components
        self.local: PublicCounts = {}
        self.cells: PublicCounts = {}
        self._coupled: dict[str, set[str]] = {}
        self._protect(counts, None, None)

    def update(self, counts: Mapping[str, SignalCounts],
               changes: Mapping[str, Collection[str]]) -> None:
        """Protect again, in the component of each changed buurt, the cells it changed
        (`changes`: buurt -> names of `changed_cells`; every cell of a component with a new
        area), and the national relation of those cells."""
        by_component: dict[str, set[str]] = defaultdict(set)
        for code, names in changes.items():
            if (component := self.components.of(code)) is not None:
                by_component[component].update(names)
        new = {c for code in counts if code not in self.cells
               and (c := self.components.of(code)) is not None}
        todo = {c: None if c in new else names for c, names in by_component.items()}
        todo.update(dict.fromkeys(new))
        # A new area (a new gemeente, say) takes part in the national relation of every cell.
        national = None if new else {name for names in changes.values() for name in names}
        self._protect(counts, todo, national)

    def _protect(self, counts: Mapping[str, SignalCounts],
                 todo: Mapping[str, set[str] | None] | None, national: Collection[str] | None
                 ) -> None:
        """Protect the components in `todo` (None: all), each for its names (None: all),
        then the national relation for `national` (None: all names)."""
        by_component = self.components.members(counts)
        for component in sorted(by_component if todo is None else todo):
            names = None if todo is None else todo[component]
            codes = by_component.get(component, [])
            fresh = _disclose_names({code: counts[code] for code in codes},
                                    self.components.programmes_among(codes), names)
            for code in codes:
                self.local[code] = _kept(self.local.get(code), fresh[code], names)
                self.cells[code] = _kept(self.cells.get(code), fresh[code], names)
        if NATIONAL_CODE not in counts:
            return
        self.cells[NATIONAL_CODE] = _kept(self.cells.get(NATIONAL_CODE), {}, national)
        gemeenten = [code for code in counts if area_level(code) is AreaLevel.GEMEENTE]
        values_of = {code: counts[code] for code in (NATIONAL_CODE, *gemeenten)}
        for name, values, keys in count_cells(values_of, national):
            result = self._national(counts, by_component, gemeenten, name, values, keys)
            for code in self._coupled.pop(name, set()) - set(result):
                if code in self.local:  # no longer coupled: back to its own outcome
                    self._set(code, name, self.local[code].get(name))
            for code, cell in result.items():
                self._set(code, name, cell)
            self._coupled[name] = set(result) - {NATIONAL_CODE}

    def _set(self, code: str, name: str, cell: DisclosedValue | None) -> None:
        """One cell of an area; its mapping is replaced only when the cell changes."""
        cells = self.cells.get(code, {})
        if code in self.cells and cells.get(name) == cell:
            return
        self.cells[code] = {k: v for k, v in cells.items() if k != name}
        if cell is not None:
            self.cells[code][name] = cell

    def _national(self, counts: Mapping[str, SignalCounts],
                  by_component: Mapping[str, list[str]], gemeenten: list[str], name: str,
                  values: Mapping[str, int], keys: Mapping[str, int]
                  ) -> dict[str, DisclosedValue]:
        """The national relation's outcome for one count: the national total's cell, and
        the cells of the components it couples."""
        hidden = [g for g in gemeenten if _withheld(self.local[g], name)]
        if not hidden and not is_small_count(values[NATIONAL_CODE]):
            return {NATIONAL_CODE: DisclosedValue.published(
                perturb(values[NATIONAL_CODE], keys[NATIONAL_CODE]))}
        components = self.components
        coupled = {c for g in hidden if (c := components.of(g)) is not None}
        national = {NATIONAL_CODE, *gemeenten}
        while True:
            inside = {code for c in coupled for code in by_component[c]}
            codes = [code for code in counts if code in inside or code in national]
            cells = {n: (v, k) for n, v, k in count_cells({c: counts[c] for c in codes},
                                                          (name,))}
            groups = cell_groups(codes, components.programmes_among(inside))
            # Gemeenten outside the coupled components take part in the national relation
            # only (their own parts are protected in their components).
            groups = {parent: kids for parent, kids in groups.items()
                      if parent == NATIONAL_CODE or parent in inside}
            # A category no area of `codes` has is 0 everywhere.
            cell_values, cell_keys = cells.get(name, ({}, {}))
            result = disclose_groups({code: cell_values.get(code, 0) for code in codes},
                                     groups, cell_keys)
            added = {c for g in gemeenten if g not in inside and result[g].suppressed
                     and (c := components.of(g)) is not None}
            if not added:
                return {code: result[code] for code in (NATIONAL_CODE, *sorted(inside))}
            coupled |= added


def protect(counts: Mapping[str, SignalCounts], components: Components) -> PublicCounts:
    """Every area's protected counts, protected one component at a time."""
    return Protection(counts, components).cells


def _merged(old: Mapping[str, DisclosedValue], fresh: Mapping[str, DisclosedValue],
            names: Collection[str] | None) -> dict[str, DisclosedValue]:
    """`fresh` over `old`, where `old`'s cells in `names` (None: all) are dropped first (a
    count no area of a component has any more is not among the fresh ones)."""
    kept = {} if names is None else {k: v for k, v in old.items() if k not in names}
    return {**kept, **fresh}


def _kept(old: dict[str, DisclosedValue] | None, fresh: Mapping[str, DisclosedValue],
          names: Collection[str] | None) -> dict[str, DisclosedValue]:
    """`_merged`, or `old` itself when that is what it is (an area whose cells are the same
    object is known to be unchanged)."""
    merged = _merged(old or {}, fresh, names)
    return old if old == merged and old is not None else merged


def _disclose_names(counts: Mapping[str, SignalCounts],
                    programme_areas: Mapping[str, list[str]], names: Collection[str] | None
                    ) -> PublicCounts:
    """`disclose_counts` of only the cells in `names` (None: all)."""
    if names is None:
        return disclose_counts(counts, programme_areas)
    groups = cell_groups(counts, programme_areas)
    out: PublicCounts = {code: {} for code in counts}
    for name, values, keys in count_cells(counts, names):
        for code, cell in disclose_groups(values, groups, keys).items():
            out[code][name] = cell
    return out


def _withheld(cells: Mapping[str, DisclosedValue], name: str) -> bool:
    cell = cells.get(name)
    return cell is not None and cell.suppressed
