"""The composite vulnerability index of areas (buurten), with its rank stability.

Method `vi-1.0.0` (OECD/JRC Handbook on Constructing Composite Indicators, 2008):

1. Winsorise each indicator at its population-weighted 1st and 99th percentile (inverse of
   the weighted distribution function). Weighted, because the z-scores below describe the
   distribution of people, not of buurten: many tiny buurten with noisy extreme rates would
   otherwise set the clip points.
2. Standardise: z = (x - weighted mean) / weighted standard deviation (population form,
   weights = population). An indicator that is constant after winsorising scores 0 everywhere.
3. Orient: the sign of `lower-is-worse` indicators is flipped, so higher = more vulnerable.
4. Domain score = unweighted mean of the area's available indicator scores in the domain.
5. Composite = weighted mean of the area's available domain scores, the domain weights
   (equal by default) renormalised over the domains that area has. An area missing a whole
   domain therefore gets the weighted mean of its other domains; an area with no data (or
   only data in domains of weight 0) gets no score, rank or decile.
6. Rank 1 = most vulnerable. Scores are compared at 9 decimals, so floating-point noise never
   orders two areas; ties go to the lower area code. Decile 10 = the 10 % most vulnerable
   areas by rank (area counts, not population): decile = 10 - floor(10 (rank - 1) / n).

Alternatives, to show how much the choice of method matters: the same pipeline with min-max
normalisation of the winsorised values (to [0, 1]) and with percentile ranks of the raw values
(mid-ranks for ties, (rank - 0.5) / n, unweighted); a `lower-is-worse` indicator becomes
1 - value there, and a constant indicator 0.5. Each area gets its rank under each method, and
each alternative a summary against the z-score ranks (Spearman correlation, largest and median
absolute rank shift, share of areas keeping their decile).

Internally areas are processed in code order, so the result (bit for bit) does not depend on
the order of the input rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

METHOD_VERSION: Final = "vi-1.0.0"
WINSOR_QUANTILES: Final = (0.01, 0.99)
RANK_DECIMALS: Final = 9

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Ranks = npt.NDArray[np.int64]


class Domain(StrEnum):
    """The domains indicators are grouped in; the values are the wire names."""

    INCOME_AND_WORK = "income-and-work"
    CARE = "care"
    NUISANCE_AND_SAFETY = "nuisance-and-safety"
    HOUSING = "housing"


class Direction(StrEnum):
    HIGHER_IS_WORSE = "higher-is-worse"
    LOWER_IS_WORSE = "lower-is-worse"


class Normalisation(StrEnum):
    Z_SCORE = "z-score"
    MIN_MAX = "min-max"
    PERCENTILE_RANK = "percentile-rank"


ALTERNATIVE_METHODS: Final = (Normalisation.MIN_MAX, Normalisation.PERCENTILE_RANK)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One column of the indicator matrix."""

    id: str
    domain: Domain
    direction: Direction


@dataclass(frozen=True, slots=True)
class IndicatorScaling:
    """What the z-score method did to one indicator; None where it had no usable values."""

    indicator_id: str
    areas_with_value: int
    lower_clip: float | None
    upper_clip: float | None
    mean: float | None
    std: float | None


@dataclass(frozen=True, slots=True)
class AreaScore:
    """The index of one area; everything is None for an area without data."""

    code: str
    score: float | None
    rank: int | None
    decile: int | None
    domain_scores: Mapping[Domain, float | None]
    alternative_ranks: Mapping[Normalisation, int | None]
    rank_spread: int | None  # largest minus smallest rank over all methods


@dataclass(frozen=True, slots=True)
class RankStability:
    """How the ranks of one alternative method differ from the z-score ranks."""

    method: Normalisation
    spearman: float | None  # None with fewer than two ranked areas
    max_abs_rank_shift: int
    median_abs_rank_shift: float
    share_same_decile: float | None


@dataclass(frozen=True, slots=True)
class VulnerabilityIndex:
    method_version: str
    method: Normalisation
    weights: Mapping[Domain, float]  # over the domains in use, summing to 1
    areas: tuple[AreaScore, ...]  # in the order of the input
    scaling: tuple[IndicatorScaling, ...]  # in the order of the indicators
    stability: tuple[RankStability, ...]


def compute_vulnerability_index(
    area_codes: Sequence[str],
    population: npt.ArrayLike,
    values: npt.ArrayLike,
    indicators: Sequence[IndicatorSpec],
    weights: Mapping[Domain, float] | None = None,
) -> VulnerabilityIndex:
    """Score, rank and decile every area (rows of `values`) on the indicators (its columns).

    `values` may hold NaN or None for unknown; `population` weighs the areas.
    """
    pop, x = _validated_arrays(area_codes, population, values, indicators)
    domains = sorted({spec.domain for spec in indicators}, key=list(Domain).index)
    domain_weights = _domain_weights(domains, weights)
    domain_of_column = np.array([domains.index(spec.domain) for spec in indicators], dtype=int)
    flipped = np.array([spec.direction is Direction.LOWER_IS_WORSE for spec in indicators])

    order = np.argsort(np.array(area_codes, dtype=str), kind="stable")
    pop, x = pop[order], x[order]
    winsorised, clips = _winsorise(x, pop)
    z, moments = _z_scores(winsorised, pop)
    usable = np.where(np.isnan(winsorised), np.nan, x)  # the same cells in every method
    oriented = {
        Normalisation.Z_SCORE: np.where(flipped, -z, z),
        Normalisation.MIN_MAX: _flip_unit(_min_max(winsorised), flipped),
        Normalisation.PERCENTILE_RANK: _flip_unit(_percentile_ranks(usable), flipped),
    }
    domain_scores = {
        method: _domain_scores(normalised, domain_of_column, len(domains))
        for method, normalised in oriented.items()
    }
    scores = {m: _composite(ds, domain_weights) for m, ds in domain_scores.items()}
    ranks = {m: _ranks(s) for m, s in scores.items()}

    main = ranks[Normalisation.Z_SCORE]
    n_ranked = int(np.count_nonzero(main))
    deciles = _deciles(main, n_ranked)
    all_ranks = np.stack(list(ranks.values()))
    spread = all_ranks.max(axis=0) - all_ranks.min(axis=0)

    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    areas = _area_scores(
        [area_codes[i] for i in order],
        scores[Normalisation.Z_SCORE],
        main,
        deciles,
        domain_scores[Normalisation.Z_SCORE],
        domains,
        {m: ranks[m] for m in ALTERNATIVE_METHODS},
        spread,
    )
    scaling = tuple(
        IndicatorScaling(spec.id, count, *clip, *moment)
        for spec, count, clip, moment in zip(
            indicators, (~np.isnan(usable)).sum(axis=0).tolist(), clips, moments, strict=True
        )
    )
    return VulnerabilityIndex(
        method_version=METHOD_VERSION,
        method=Normalisation.Z_SCORE,
        weights=dict(zip(domains, domain_weights.tolist(), strict=True)),
        areas=tuple(areas[i] for i in position.tolist()),
        scaling=scaling,
        stability=tuple(
            _stability(method, main, ranks[method], deciles, n_ranked)
            for method in ALTERNATIVE_METHODS
        ),
    )


def _validated_arrays(
    area_codes: Sequence[str],
    population: npt.ArrayLike,
    values: npt.ArrayLike,
    indicators: Sequence[IndicatorSpec],
) -> tuple[Vector, Matrix]:
    n, k = len(area_codes), len(indicators)
    if len(set(area_codes)) != n:
        raise ValueError("area codes must be unique")
    if len({spec.id for spec in indicators}) != k:
        raise ValueError("indicator ids must be unique")
    pop = np.asarray(population, dtype=np.float64)
    if pop.shape != (n,):
        raise ValueError(f"population must have one weight per area ({n}), got {pop.shape}")
    if not np.all(np.isfinite(pop)) or np.any(pop < 0):
        raise ValueError("population weights must be finite and non-negative")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 and n * k == 0:
        x = x.reshape(n, k)  # [] is a valid empty matrix of any shape
    if x.shape != (n, k):
        raise ValueError(f"values must be {n} areas x {k} indicators, got {x.shape}")
    if np.any(np.isinf(x)):
        raise ValueError("indicator values must be finite or unknown (NaN/None)")
    return pop, x


def _domain_weights(domains: list[Domain], weights: Mapping[Domain, float] | None) -> Vector:
    if weights is None:
        return np.full(len(domains), 1 / len(domains)) if domains else np.empty(0)
    missing = [d.value for d in domains if d not in weights]
    if missing:
        raise ValueError(f"no weight for domain(s) {', '.join(missing)}")
    w = np.array([weights[d] for d in domains], dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("domain weights must be finite, non-negative and not all zero")
    normalised: Vector = w / w.sum()
    return normalised


def _weighted_quantiles(v: Vector, w: Vector, qs: tuple[float, ...]) -> list[float]:
    """Inverse of the weighted distribution function: the smallest v with F(v) >= q."""
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    at = np.searchsorted(cumulative, np.array(qs) * cumulative[-1], side="left")
    return v[order][np.minimum(at, len(v) - 1)].tolist()  # type: ignore[no-any-return]


def _usable(column: Vector, pop: Vector) -> npt.NDArray[np.bool_] | None:
    """The areas with a value, or None when they carry no population to weigh them by."""
    known = ~np.isnan(column)
    return known if pop[known].sum() > 0 else None


def _winsorise(x: Matrix, pop: Vector) -> tuple[Matrix, list[tuple[float | None, float | None]]]:
    out = np.full_like(x, np.nan)
    clips: list[tuple[float | None, float | None]] = []
    for j in range(x.shape[1]):
        known = _usable(x[:, j], pop)
        if known is None:
            clips.append((None, None))
            continue
        low, high = _weighted_quantiles(x[known, j], pop[known], WINSOR_QUANTILES)
        out[known, j] = np.clip(x[known, j], low, high)
        clips.append((low, high))
    return out, clips


def _z_scores(w_x: Matrix, pop: Vector) -> tuple[Matrix, list[tuple[float | None, float | None]]]:
    z = np.full_like(w_x, np.nan)
    moments: list[tuple[float | None, float | None]] = []
    for j in range(w_x.shape[1]):
        known = ~np.isnan(w_x[:, j])
        if not known.any():
            moments.append((None, None))
            continue
        v, w = w_x[known, j], pop[known]
        # In units of the column's largest magnitude: squares of values near 1e-160 (or
        # 1e160) would leave the range of doubles and lose the spread, which a scaled
        # indicator must not change.
        scale = float(np.max(np.abs(v))) or 1.0
        u = v / scale
        mean = float(np.dot(w, u) / w.sum())
        std = float(np.sqrt(np.dot(w, (u - mean) ** 2) / w.sum()))
        # Constant, or all population on one value: no spread to standardise by (the
        # tolerance absorbs rounding in the mean of zero-weight outliers).
        spread = float(np.ptp(u))
        degenerate = spread == 0 or std <= 1e-12 * spread
        z[known, j] = 0.0 if degenerate else (u - mean) / std
        moments.append((mean * scale, std * scale))
    return z, moments


def _min_max(w_x: Matrix) -> Matrix:
    out = np.full_like(w_x, np.nan)
    for j in range(w_x.shape[1]):
        known = ~np.isnan(w_x[:, j])
        if not known.any():
            continue
        v = w_x[known, j]
        low, high = v.min(), v.max()
        out[known, j] = 0.5 if high == low else (v - low) / (high - low)
    return out


def _percentile_ranks(x: Matrix) -> Matrix:
    out = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        known = ~np.isnan(x[:, j])
        n = int(known.sum())
        if n == 0:
            continue
        _, inverse, counts = np.unique(x[known, j], return_inverse=True, return_counts=True)
        mid_rank = np.cumsum(counts) - counts + (counts + 1) / 2
        out[known, j] = (mid_rank[inverse] - 0.5) / n
    return out


def _flip_unit(u: Matrix, flipped: npt.NDArray[np.bool_]) -> Matrix:
    return np.where(flipped, 1.0 - u, u)


def _domain_scores(oriented: Matrix, domain_of_column: npt.NDArray[np.int_], n: int) -> Matrix:
    out = np.full((oriented.shape[0], n), np.nan)
    for d in range(n):
        columns = oriented[:, domain_of_column == d]
        known = ~np.isnan(columns)
        count = known.sum(axis=1)
        total = np.where(known, columns, 0.0).sum(axis=1)
        np.divide(total, count, out=out[:, d], where=count > 0)
    return out


def _composite(domain_scores: Matrix, weights: Vector) -> Vector:
    known = ~np.isnan(domain_scores)
    weight = (known * weights).sum(axis=1)
    total = (np.where(known, domain_scores, 0.0) * weights).sum(axis=1)
    out = np.full(domain_scores.shape[0], np.nan)
    np.divide(total, weight, out=out, where=weight > 0)
    return out


def _ranks(scores: Vector) -> Ranks:
    """Rank 1 = highest score; 0 = unranked. Rows are in code order, so ties go to the code."""
    scored = np.flatnonzero(~np.isnan(scores))
    key = np.round(scores[scored], RANK_DECIMALS)
    by_rank = scored[np.argsort(-key, kind="stable")]
    ranks = np.zeros(len(scores), dtype=np.int64)
    ranks[by_rank] = np.arange(1, len(by_rank) + 1)
    return ranks


def _deciles(ranks: Ranks, n_ranked: int) -> Ranks:
    deciles = np.zeros_like(ranks)
    ranked = ranks > 0
    deciles[ranked] = 10 - (ranks[ranked] - 1) * 10 // max(n_ranked, 1)
    return deciles


def _stability(
    method: Normalisation, main: Ranks, other: Ranks, main_deciles: Ranks, n: int
) -> RankStability:
    ranked = main > 0
    shift = np.abs(other[ranked] - main[ranked])
    same_decile = _deciles(other, n)[ranked] == main_deciles[ranked]
    return RankStability(
        method=method,
        spearman=float(1 - 6 * np.sum(shift.astype(np.float64) ** 2) / (n * (n * n - 1)))
        if n >= 2
        else None,
        max_abs_rank_shift=int(shift.max()) if n else 0,
        median_abs_rank_shift=float(np.median(shift)) if n else 0.0,
        share_same_decile=float(same_decile.mean()) if n else None,
    )


def _area_scores(
    codes: list[str],
    scores: Vector,
    ranks: Ranks,
    deciles: Ranks,
    domain_scores: Matrix,
    domains: list[Domain],
    alternative_ranks: Mapping[Normalisation, Ranks],
    spread: Ranks,
) -> list[AreaScore]:
    """Python objects for the areas, in code order; numpy values become plain None/float/int."""
    per_domain = [[None if math.isnan(s) else s for s in row] for row in domain_scores.tolist()]
    alternatives = {m: r.tolist() for m, r in alternative_ranks.items()}
    columns = zip(
        codes, scores.tolist(), ranks.tolist(), deciles.tolist(), spread.tolist(), strict=True
    )
    return [
        AreaScore(
            code=code,
            score=None if rank == 0 else score,
            rank=rank or None,
            decile=decile or None,
            domain_scores=dict(zip(domains, per_domain[i], strict=True)),
            alternative_ranks={m: r[i] or None for m, r in alternatives.items()},
            rank_spread=None if rank == 0 else width,
        )
        for i, (code, score, rank, decile, width) in enumerate(columns)
    ]
