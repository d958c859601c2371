"""The area register over HTTP: CBS import, edits, listings, and its area events."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.indicators.models import Area, AreaStatistics, Outbox

DATA = Path(__file__).parent / "data"
CSV = {"Content-Type": "text/csv"}


async def _count(svc, model) -> int:
    async with svc.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_reads_the_real_layout_and_reports_every_rejected_row(indicators, auth):
    admin = auth("admin")
    body = (DATA / "kerncijfers_2020_vlaardingen.csv").read_bytes()
    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2020", content=body,
                                  headers={**admin, **CSV})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["year"] == 2020
        assert report["imported"] >= 8 and report["updated"] == 0
        rejected = {row["line"]: row for row in report["rejected"]}
        assert rejected and all(row["reasons"] for row in rejected.values())
        assert sorted(rejected) == list(range(10, 17))  # 15 data rows, 8 good
        assert "duplicate" in rejected[15]["reasons"][0]

        area = (await svc.client.get("/v1/areas/BU06220102", headers=admin)).json()
        assert area["level"] == "buurt" and area["parentCode"] == "WK062201"
        stats = area["statistics"][0]
        assert stats["year"] == 2020
        assert stats["meanWozValue"] is None  # empty in the file: unknown, never 0
        assert stats["bijstandRecipients"] is None  # -99997: secret
        national = (await svc.client.get("/v1/areas/NL00", headers=admin)).json()
        assert national["level"] == "national" and national["parentCode"] is None
        events = await _count(svc, Outbox)
        assert events == report["imported"]

        again = (await svc.client.post("/v1/areas/import?year=2020", content=body,
                                       headers={**admin, **CSV})).json()
        assert again["imported"] == 0 and again["updated"] == 0
        assert again["unchanged"] == report["imported"]
        assert again["rejected"] == report["rejected"]
        assert await _count(svc, Outbox) == events  # nothing changed, nothing announced


async def test_a_malformed_file_changes_nothing(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        good = (DATA / "kerncijfers_2023_nieuwegein_comma.csv").read_bytes()
        r = await svc.client.post("/v1/areas/import?year=2023", content=good,
                                  headers={**admin, **CSV})
        assert r.status_code == 200, r.text
        before = (await _count(svc, Area), await _count(svc, AreaStatistics),
                  await _count(svc, Outbox))
        for bad in ((DATA / "not_kerncijfers.csv").read_bytes(), b"\x00\x01binary", b""):
            r = await svc.client.post("/v1/areas/import?year=2023", content=bad,
                                      headers={**admin, **CSV})
            assert r.status_code == 400, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        after = (await _count(svc, Area), await _count(svc, AreaStatistics),
                 await _count(svc, Outbox))
        assert after == before


async def test_only_admins_write_the_register(indicators, auth):
    async with indicators() as svc:
        body = {"name": "Utrecht"}
        r = await svc.client.put("/v1/areas/GM0344", json=body, headers=auth("analyst"))
        assert r.status_code == 403
        r = await svc.client.post("/v1/areas/import?year=2023", content=b"x",
                                  headers={**auth("partner"), **CSV})
        assert r.status_code == 403


async def test_parents_are_derived_from_codes_and_must_exist(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        c = svc.client
        r = await c.put("/v1/areas/BU03440101", json={"name": "Buurt"}, headers=admin)
        assert r.status_code == 422
        assert (await c.put("/v1/areas/GM0344", json={"name": "Utrecht"},
                            headers=admin)).status_code == 200
        assert (await c.put("/v1/areas/WK034401", json={"name": "Wijk 1"},
                            headers=admin)).status_code == 200
        stats = [{"year": 2024, "inhabitants": 1200, "corporationDwellings": 300}]
        r = await c.put("/v1/areas/BU03440101", json={"name": "Buurt", "statistics": stats},
                        headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["parentCode"] == "WK034401"
        assert r.json()["statistics"][0]["corporationDwellings"] == 300
        r = await c.put("/v1/areas/BU03440101", json={"name": "x", "bogus": 1}, headers=admin)
        assert r.status_code == 400


async def test_listing_filters_and_pages_with_a_cursor(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        c = svc.client
        await c.put("/v1/areas/GM0344", json={"name": "Utrecht"}, headers=admin)
        await c.put("/v1/areas/WK034401", json={"name": "Wijk 1"}, headers=admin)
        buurten = [f"BU034401{i:02d}" for i in range(1, 6)]
        for code in buurten:
            await c.put(f"/v1/areas/{code}", json={"name": code}, headers=admin)
        r = await c.put("/v1/programme-areas/PA-utrecht-overvecht",
                        json={"name": "Utrecht Overvecht", "gemeenteCode": "GM0344",
                              "buurtCodes": buurten[:3]}, headers=admin)
        assert r.status_code == 200, r.text
        r = await c.put("/v1/programme-areas/PA-nowhere",
                        json={"name": "Nowhere", "buurtCodes": ["BU09990101"]}, headers=admin)
        assert r.status_code == 422

        reader = auth("partner", "demo-partner")
        seen, cursor = [], None
        while True:
            query = {"level": "buurt", "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await c.get("/v1/areas", params=query, headers=reader)).json()
            seen += [a["code"] for a in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert seen == buurten
        page = (await c.get("/v1/areas", params={"parentCode": "GM0344"},
                            headers=reader)).json()
        assert [a["code"] for a in page["items"]] == ["WK034401"]
        page = (await c.get("/v1/areas", params={"programmeAreaId": "PA-utrecht-overvecht"},
                            headers=reader)).json()
        assert [a["code"] for a in page["items"]] == buurten[:3]
        assert page["items"][0]["programmeAreaIds"] == ["PA-utrecht-overvecht"]
        programmes = (await c.get("/v1/programme-areas", headers=reader)).json()["items"]
        assert programmes[0]["buurtCodes"] == buurten[:3]
        assert (await c.get("/v1/areas/BU09990101", headers=reader)).status_code == 404


async def test_a_cbs_file_may_pass_the_api_body_limit_but_not_its_own(indicators, auth):
    """A whole CBS file (up to 50 MiB) is more than an API body (4 MiB); chunked or not,
    each limit holds on the bytes read."""
    admin = {**auth("admin"), **CSV}
    not_cbs = b"Naam;Waarde\n" + b"regel;1\n" * 700_000  # ~5.3 MiB, over 4 MiB

    async def chunked(data: bytes, size: int = 1 << 20):
        for start in range(0, len(data), size):
            yield data[start:start + size]

    async with indicators() as svc:
        r = await svc.client.post("/v1/areas/import?year=2023", content=chunked(not_cbs),
                                  headers=admin)
        assert r.status_code == 400, r.text  # read whole and parsed: not a CBS file
        r = await svc.client.post("/v1/areas/import?year=2023",
                                  content=chunked(b"x" * (50 * 1024 * 1024 + 1)), headers=admin)
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await svc.client.put("/v1/areas/GM0344", content=chunked(b"x" * (5 << 20)),
                                  headers={**admin, "Content-Type": "text/plain"})
        assert r.status_code == 413, r.text  # elsewhere, the API limit
