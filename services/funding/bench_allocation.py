"""Time `allocate` at national scale: `python -m services.funding.bench_allocation`."""

from __future__ import annotations

import random
from decimal import Decimal
from statistics import median
from time import perf_counter

from services.funding.allocation import AreaInput, NeedRule, allocate

POOL_CENTS = 40_000_000_000  # EUR 400 million


def national_areas(n: int, seed: int = 2025) -> list[AreaInput]:
    """`n` buurten with inhabitants, a composite index, and floors and caps on most of them."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not security)
    areas = []
    for i in range(n):
        inhabitants = rng.randint(5, 6000)
        need = Decimal(rng.randint(0, 2000)) / 1000  # index 0.000-2.000
        floor = rng.choice([0, 0, 10_000_00, 20_000_00])  # 0, EUR 10k or EUR 20k
        cap = rng.choice([None, floor + 50_000_00, floor + 100_000_00])
        areas.append(
            AreaInput(
                code=f"BU{i:08d}",
                base=inhabitants,
                need=need,
                inhabitants=inhabitants,
                fixed_cents=rng.choice([0, 0, 0, 25_000_00]),
                floor_cents=floor,
                cap_cents=cap,
            )
        )
    return areas


def bench_national(n: int = 14_000, repeat: int = 5) -> list[float]:
    """Wall times in seconds of `allocate` over `n` synthetic areas (input built once)."""
    areas = national_areas(n)
    rule = NeedRule(threshold=Decimal("0.8"))
    times = []
    for _ in range(repeat):
        started = perf_counter()
        allocate(POOL_CENTS, areas, rule)
        times.append(perf_counter() - started)
    return times


if __name__ == "__main__":
    allocation = allocate(POOL_CENTS, national_areas(14_000), NeedRule(threshold=Decimal("0.8")))
    bound = {binding: 0 for binding in ("floor", "cap", "none")}
    for line in allocation.lines:
        bound[line.binding] += 1
    print(f"14,000 areas, bound: {bound}, factor {allocation.factor}")
    times = bench_national()
    best = min(times)
    print(f"allocate: {best * 1000:.1f} ms best, {median(times) * 1000:.1f} ms median"
          f" of {len(times)}")
    print(f"seconds={best}")  # read by `make bench`
