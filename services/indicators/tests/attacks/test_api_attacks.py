"""The five reproduced attacks on the published indicators, through the real API.

Each test plays an ordinary reader: it reads what the API publishes and works out the most it
can about one small cell, with an exact integer solver where counts combine. The attack fails
when the cell is not pinned to a single value. Every attacker here relies only on what the
documentation promises: a published count is within `MAX_NOISE` of the true count, a
`small-count` cell holds 1-4, a `secondary` cell 1 or more, and denominators of rates on
corporation dwellings are public (CBS).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from services.indicators.tests.attacks.solver import MAX_NOISE, Attacker
from services.indicators.tests.helpers import record_all, recorded, value
from shared.db import utcnow

HOUSEHOLDS = "signalled-households"
RATE = "signalled-households-per-100-corporation-dwellings"
TREND = "signalled-households-trend"
STACKED = "stacked-households-pct"


async def _register(client: httpx.AsyncClient, admin: dict[str, str], buurten: list[str],
                    programme_areas: dict[str, list[str]] | None = None) -> None:
    """The buurten with their wijken and gemeenten; 100 corporation dwellings per buurt."""
    stats = [{"year": 2026, "inhabitants": 1000, "households": 500, "dwellings": 400,
              "corporationDwellings": 100}]
    codes = {*buurten, *("WK" + b[2:8] for b in buurten), *("GM" + b[2:6] for b in buurten)}
    for code in sorted(codes, key=lambda c: (len(c), c)):  # parents first
        body = {"name": code, "statistics": stats if code.startswith("BU") else []}
        r = await client.put(f"/v1/areas/{code}", json=body, headers=admin)
        assert r.status_code == 200, r.text
    for programme_id, members in (programme_areas or {}).items():
        r = await client.put(f"/v1/programme-areas/{programme_id}", headers=admin, json={
            "name": programme_id, "gemeenteCode": "GM" + members[0][2:6], "buurtCodes": members})
        assert r.status_code == 200, r.text


def _households(area: str, n: int, observed: str, first: int = 0, **kw: Any) -> list[Any]:
    return [recorded(area, f"hh-{area}-{i}", observed=observed, **kw)
            for i in range(first, first + n)]


async def _indicators(client: httpx.AsyncClient, code: str, headers: dict[str, str],
                      period: str | None = None) -> httpx.Response:
    params = {} if period is None else {"period": period}
    return await client.get(f"/v1/areas/{code}/indicators", params=params, headers=headers)


async def _published(client: httpx.AsyncClient, codes: list[str], headers: dict[str, str],
                     period: str) -> dict[str, dict[str, Any]]:
    out = {}
    for code in codes:
        r = await _indicators(client, code, headers, period)
        assert r.status_code == 200, r.text
        out[code] = r.json()
    return out


def _counts_attacker(published: dict[str, dict[str, Any]], groups: dict[str, list[str]]
                     ) -> Attacker:
    """Every published household count as bounds, every parent as the sum of its parts."""
    attacker = Attacker()
    for code, body in published.items():
        attacker.observe_count(code, value(body, HOUSEHOLDS))
    for parent, parts in groups.items():
        attacker.equal(parent, parts)
    return attacker


def _hierarchy(buurten: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"NL00": sorted({"GM" + b[2:6] for b in buurten})}
    for b in buurten:
        groups.setdefault("WK" + b[2:8], []).append(b)
    for wijk in [w for w in groups if w.startswith("WK")]:
        groups.setdefault("GM" + wijk[2:6], []).append(wijk)
    return groups


def _codes(groups: dict[str, list[str]]) -> list[str]:
    return sorted({*groups, *(c for parts in groups.values() for c in parts)})


# --- 1. a percentage of a rounded count over a raw denominator -------------------------------


def _denominators(pct: float, lowest: int = 100, highest: int = 2_000) -> set[int]:
    """Bases d for which some whole numerator r gives round(r / d * 100, 1) == pct."""
    out = set()
    for d in range(lowest, highest):
        r = round(pct * d / 100)
        if any(round(x / d * 100, 1) == pct for x in (r - 1, r, r + 1) if x >= 0):
            out.add(d)
    return out


async def test_a_percentage_does_not_give_a_withheld_denominator_back(indicators, auth):
    """Wijk = A (3 households) + B (104, secondary). The percentages of stacking of B and of
    the wijk gave both bases, so A = 107 - 104 = 3."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    a, b, wijk = "BU03440101", "BU03440102", "WK034401"
    async with indicators() as svc:
        await _register(svc.client, admin, [a, b])
        signals = _households(a, 3, "2026-10-10") + _households(b, 104, "2026-10-10")
        signals += [recorded(b, f"hh-{b}-{i}", category="nuisance", observed="2026-10-11")
                    for i in range(20)]  # 20 households of B in two categories
        await record_all(svc.runtime, signals)
        pub = await _published(svc.client, [a, b, wijk], analyst, "rolling-12m:2026-10")

    assert value(pub[a], HOUSEHOLDS)["reason"] == "small-count"
    assert value(pub[b], HOUSEHOLDS)["reason"] == "secondary"
    wijk_count = value(pub[wijk], HOUSEHOLDS)["value"]
    pct_b, pct_wijk = value(pub[b], STACKED)["value"], value(pub[wijk], STACKED)["value"]
    # The attack as reproduced: the base of a rolling-12m percentage is the period's signalled
    # households, read back from the percentage.
    bases_b = _denominators(pct_b) if pct_b is not None else set(range(5, 2_000))
    bases_wijk = _denominators(pct_wijk) if pct_wijk is not None else set(range(5, 2_000))
    found = {x for x in range(1, 5) for w in bases_wijk
             if (wijk_count is None or abs(wijk_count - w) <= MAX_NOISE) and w - x in bases_b}
    assert len(found) != 1, f"A is pinned to {found}"


# --- 2. a trend against a less protected previous period -------------------------------------


async def test_a_trend_does_not_give_a_withheld_previous_value_back(indicators, auth):
    """September: wijk = A (1) + B (8, secondary) + C (38). October's rate of B minus its
    trend was September's rate of B with primary control only: B in 8..12, so A = 1."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    a, b, c = "BU03440101", "BU03440102", "BU03440103"
    groups = _hierarchy([a, b, c])
    async with indicators() as svc:
        await _register(svc.client, admin, [a, b, c])
        await record_all(svc.runtime, _households(a, 1, "2026-09-10")
                         + _households(b, 8, "2026-09-10") + _households(c, 38, "2026-09-10")
                         + _households(b, 20, "2026-10-10", first=100))
        september = await _published(svc.client, _codes(groups), analyst, "month:2026-09")
        october = (await _published(svc.client, [b], analyst, "month:2026-10"))[b]

    assert value(september[b], HOUSEHOLDS)["reason"] == "secondary"
    attacker = _counts_attacker(september, groups)
    rate, trend = value(october, RATE)["value"], value(october, TREND)["value"]
    if rate is not None and trend is not None:
        # 100 corporation dwellings: last month's published rate is its published count.
        attacker.observe_count(b, {"value": round(rate - trend)})
    found = attacker.candidates(a)
    assert 1 in found or not found
    assert len(found) != 1, f"A is pinned to {found}"


# --- 3. a withheld parent rebuilt from its published children --------------------------------


async def test_a_withheld_wijk_is_not_rebuilt_from_its_published_buurten(indicators, auth):
    """Gemeente = wijk 1 (7 + 7, secondary) + wijk 2 (one buurt of 4): from the published
    buurten wijk 1 <= 14 and the gemeente >= 18, so the small cell is exactly 4."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    b1, b2, small = "BU03440101", "BU03440102", "BU03440201"
    groups = _hierarchy([b1, b2, small])
    async with indicators() as svc:
        await _register(svc.client, admin, [b1, b2, small])
        await record_all(svc.runtime, _households(b1, 7, "2026-10-10")
                         + _households(b2, 7, "2026-10-10") + _households(small, 4, "2026-10-10"))
        pub = await _published(svc.client, _codes(groups), analyst, "month:2026-10")

    assert value(pub[small], HOUSEHOLDS)["reason"] == "small-count"
    assert value(pub["WK034401"], HOUSEHOLDS)["reason"] == "secondary"
    found = _counts_attacker(pub, groups).candidates(small)
    assert 4 in found
    assert len(found) > 1, f"the small cell is pinned to {found}"


# --- 4. a tracker: a field worker adds signals one at a time --------------------------------


def _own_in(body: dict[str, Any], own: list[Any]) -> int:
    """How many of the tracker's own signals a published figure counts, by its documented
    scope: the period's months, and (when the answer says so) recorded before `dataUntil`."""
    period = body["period"]
    kind, last = period.split(":")
    months = 1 if kind == "month" else 12
    last_index = int(last[:4]) * 12 + int(last[5:7]) - 1
    until = body.get("dataUntil")
    n = 0
    for s in own:
        index = s.observed_at.year * 12 + s.observed_at.month - 1
        if last_index - months < index <= last_index and (
                until is None or s.recorded_at.isoformat() < until.replace("Z", "+00:00")):
            n += 1
    return n


async def test_a_field_worker_adding_signals_never_learns_the_other_corporations_count(
        indicators, auth):
    """Corporation A has 3 households in a buurt. A field worker of corporation B adds 30
    households there, one at a time, backdated into a closed month, and reads after each
    addition everything a field worker may read of that buurt."""
    admin, worker = auth("admin"), auth("field-worker", "demo-corp-b")
    target, neighbour = "BU03440101", "BU03440102"
    now = utcnow()
    past = (now - timedelta(days=75)).date().isoformat()
    month = past[:7]
    hidden = 3
    async with indicators() as svc:
        await _register(svc.client, admin, [target, neighbour])
        await record_all(svc.runtime, _households(target, hidden, past)
                         + _households(neighbour, 40, past))
        possible = set(range(0, 200))
        own: list[Any] = []
        for i in range(31):
            if i:
                signal = recorded(target, f"tracker-{i}", observed=past).model_copy(
                    update={"recorded_at": utcnow(), "organisation": "demo-corp-b"})
                await record_all(svc.runtime, [signal])
                own.append(signal)
            r = await svc.client.get(f"/v1/areas/{target}/signal-counts", headers=worker)
            assert r.status_code == 200, r.text
            counts = r.json()
            if counts.get("organisation") is None:  # every organisation's signals
                possible &= _consistent(counts["signals"], None, len(own))
            for period in (None, f"month:{month}", f"rolling-12m:{month}"):
                r = await _indicators(svc.client, target, worker, period)
                if r.status_code != 200:
                    continue  # refused: tells nothing
                body = r.json()
                n_own = _own_in(body, own)
                for indicator in ("signals", HOUSEHOLDS):
                    cell = value(body, indicator)
                    possible &= _consistent(cell["value"], cell["reason"], n_own)
            assert hidden in possible
            assert len(possible) > 1, f"after {i} additions the hidden count is {possible}"


def _consistent(published: float | None, reason: str | None, own: int) -> set[int]:
    """Hidden counts h for which a figure counting h + own could be published as seen."""
    attacker = Attacker()
    attacker.observe_count("total", {"value": published, "reason": reason})
    attacker.constrain({"total": 1, "hidden": -1}, own, own)
    return attacker.candidates("hidden")


# --- 5. overlapping programme areas ---------------------------------------------------------


async def test_overlapping_programme_areas_do_not_give_a_small_cell_away(indicators, auth):
    """PA-one = a + b + c and PA-two = b + c + d: their difference is a - d, and d is
    published, so a (1) follows from the two programme areas' totals."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    sizes = {"BU03440101": 1, "BU03440201": 11, "BU03440301": 10, "BU03440401": 32,
             "BU03440102": 60, "BU03440202": 60, "BU03440302": 60, "BU03440402": 60}
    programmes = {"PA-one": ["BU03440101", "BU03440201", "BU03440301"],
                  "PA-two": ["BU03440201", "BU03440301", "BU03440401"]}
    groups = _hierarchy(list(sizes)) | programmes
    async with indicators() as svc:
        await _register(svc.client, admin, list(sizes), programmes)
        await record_all(svc.runtime, [s for code, n in sizes.items()
                                       for s in _households(code, n, "2026-10-10")])
        pub = await _published(svc.client, _codes(groups), analyst, "month:2026-10")

    assert value(pub["BU03440101"], HOUSEHOLDS)["reason"] == "small-count"
    found = _counts_attacker(pub, groups).candidates("BU03440101")
    assert 1 in found
    assert len(found) > 1, f"the small cell is pinned to {found}"
