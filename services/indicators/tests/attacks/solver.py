"""An exact attacker: integer linear programming over everything that is published.

Unknowns are true counts (and, where the attacker needs them, other integers such as the
numerator behind a percentage); every published figure becomes bounds or a linear constraint on
them. For a target cell the attacker minimises and maximises its value over every integer
solution: when both are the same, the published figures pin it (HiGHS through scipy's `milp`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

from services.indicators import cellkey

# What the documentation promises about a published count: it is within this distance of the
# true count (the cell-key perturbation's maximum; the old rounding to 5 promised 2).
MAX_NOISE = cellkey.MAX_NOISE
UNBOUNDED = 10_000  # larger than any count here; HiGHS is steadier with modest bounds


class Attacker:
    """A system of integer unknowns and linear constraints; ask for the range of one unknown."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._lower: list[float] = []
        self._upper: list[float] = []
        self._rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, name: str, lower: float = 0, upper: float = UNBOUNDED) -> str:
        i = self._index.get(name)
        if i is None:
            self._index[name] = len(self._lower)
            self._lower.append(lower)
            self._upper.append(upper)
        else:
            self._lower[i] = max(self._lower[i], lower)
            self._upper[i] = min(self._upper[i], upper)
        return name

    def constrain(self, coefs: Mapping[str, float], lower: float, upper: float) -> None:
        row = {self._index[self.var(name)]: c for name, c in coefs.items()}
        self._rows.append((row, lower, upper))

    def equal(self, total: str, parts: list[str]) -> None:
        """total = sum(parts) (a parent and the children partitioning it)."""
        coefs: dict[str, float] = {total: 1.0}
        for part in parts:
            coefs[part] = coefs.get(part, 0.0) - 1.0
        self.constrain(coefs, 0, 0)

    def observe_count(self, name: str, cell: Mapping[str, Any], noise: int = MAX_NOISE) -> None:
        """What one published count (value, or null with a reason) says about the true count."""
        value, reason = cell.get("value"), cell.get("reason")
        if reason == "small-count":
            self.var(name, 1, 4)
        elif reason == "secondary":
            self.var(name, 1, UNBOUNDED)
        elif value is None:
            self.var(name)
        elif value == 0:
            self.var(name, 0, 0)
        else:
            self.var(name, max(5, value - noise), value + noise)

    def solve(self, objective: Mapping[str, float]) -> dict[str, int] | None:
        """An integer solution minimising the objective (None: there is none)."""
        for name in objective:
            self.var(name)
        n = len(self._lower)
        bounds = Bounds(np.array(self._lower), np.array(self._upper))
        constraints = []
        if self._rows:
            matrix = np.zeros((len(self._rows), n))
            lower = np.empty(len(self._rows))
            upper = np.empty(len(self._rows))
            for r, (row, lo, hi) in enumerate(self._rows):
                for i, c in row.items():
                    matrix[r, i] = c
                lower[r], upper[r] = lo, hi
            constraints = [LinearConstraint(matrix, lower, upper)]
        objective_row = np.zeros(n)
        for name, weight in objective.items():
            objective_row[self._index[name]] = weight
        result = milp(objective_row, integrality=np.ones(n), bounds=bounds, constraints=constraints)
        if result.status == 2:  # infeasible
            return None
        assert result.status == 0, result.message
        return {name: round(result.x[i]) for name, i in self._index.items()}

    def range_of(self, name: str) -> tuple[int, int] | None:
        """The least and greatest value of `name` over all integer solutions (None: none)."""
        least = self.solve({name: 1.0})
        greatest = self.solve({name: -1.0})
        if least is None or greatest is None:
            return None
        return least[name], greatest[name]

    def candidates(self, name: str) -> set[int]:
        found = self.range_of(name)
        return set() if found is None else set(range(found[0], found[1] + 1))

    def pinned(self, truth: Mapping[str, int]) -> list[str]:
        """Which of the unknowns in `truth` (a solution the attacker cannot see) take their
        true value in every solution. A few solves prove most of them free: push all the
        undecided ones up together, then down, then ask about the rest one by one."""
        undecided = set(truth)
        for sign in (-1.0, 1.0):
            while undecided:
                found = self.solve({name: sign for name in undecided})
                assert found is not None, "the truth is a solution, so there is one"
                moved = {name for name in undecided if found[name] != truth[name]}
                if not moved:
                    break
                undecided -= moved
        return sorted(name for name in undecided
                      if (r := self.range_of(name)) is not None and r[0] == r[1])
