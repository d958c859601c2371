"""The console in a real browser: the pages of the staff behind the figures (privacy officer,
programme officers, analyst, admin), against the real services with demo data.

The same stack as test_browser.py (see conftest): each test signs in as its role, clicks the
real flows, checks every page with axe-core (WCAG 2.1 A and AA) and saves a screenshot.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from services.console.tests.conftest import axe_check, screenshot
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(120)


async def test_privacy_officer_reads_the_log_and_exports_and_erases(as_role, stack, token):
    # A household to ask for (one of the demo signals with a unit reference); reading it
    # puts the coordinator in the access log.
    headers = {"Authorization": f"Bearer {token('coordinator', 'demo-corp-a')}"}
    async with httpx.AsyncClient(base_url=stack.urls["signals"], headers=headers) as client:
        page_ = (await client.get("/v1/signals", params={"category": "rent-arrears",
                                                         "limit": 50})).json()
        unit = None
        for s in page_["items"]:
            read = (await client.get(f"/v1/signals/{s['id']}",
                                     params={"purpose": "case-handling"})).json()
            unit = (read.get("personalData") or {}).get("unitRef")
            if unit:
                break
        assert unit

    page = await as_role("privacy-officer", "demo-corp-a")
    await page.click("nav >> text=Toegangslog")
    await page.wait_for_selector(".chain-status")
    assert "intact" in await page.locator(".chain-status").inner_text()
    await page.wait_for_selector("table.access-log")
    await axe_check(page)
    await screenshot(page, "privacy-access-log")
    await page.fill("#subject", "dev-coordinator@demo-corp-a")
    await page.click("button >> text=Filteren")
    await page.wait_for_url("**subject=**")
    readers = await page.locator("table.access-log tbody tr td:nth-child(2)").all_inner_texts()
    assert set(readers) <= {"dev-coordinator@demo-corp-a"}
    def column(n: int):
        return page.locator(f"table.access-log tbody tr td:nth-child({n})").all_inner_texts()

    assert set(await column(4)) == {"Coördinator"}  # labels of the API, not codes
    assert "Behandeling van de melding" in await column(5)
    assert set(await column(8)) <= {"Toegestaan", "Geweigerd"}

    await page.click("text=Verzoeken van betrokkenen")
    await page.wait_for_selector("table.erasure-records")
    await axe_check(page)
    await page.fill("#postcode", "not a postcode")
    await page.click("button >> text=Inzage")
    await page.wait_for_selector("#postcode-fout")
    assert await page.get_attribute("#postcode", "aria-invalid") == "true"
    await page.fill("#postcode", "")
    await page.fill("#unitRef", unit)
    await page.click("button >> text=Inzage")
    await page.wait_for_selector("section.export")
    assert "Inzage: 1 signalen" in await page.locator("section.export h2").inner_text() or \
        await page.locator("section.export li").count() >= 1
    await axe_check(page)
    await screenshot(page, "privacy-export")
    # Erasure needs the box ticked, then the API erases and the record shows it.
    await page.click("button >> text=Wissen")
    await page.wait_for_selector("#confirm-fout")
    await page.fill("#unitRef", unit)
    await page.check("#confirm")
    await page.click("button >> text=Wissen")
    await page.wait_for_selector(".erasure-result")
    assert "Gewist" in await page.locator(".erasure-result").inner_text()
    records = await page.locator("table.erasure-records").inner_text()
    assert "Gewist op verzoek" in records and "Verzoek van de betrokkene" in records, records
    assert "data-subject-request" not in records and "erasure" not in records


async def test_officer_drafts_another_person_approves_and_scenarios_compare(as_role, stack,
                                                                            token):
    # Funding computes from the indicators the indicators service published over the broker.
    headers = {"Authorization": f"Bearer {token('programme-officer', 'demo-municipality')}"}
    async with httpx.AsyncClient(base_url=stack.urls["funding"], headers=headers) as client:
        async def received():
            r = await client.get("/v1/indicator-inputs/BU0599X001")
            return r.status_code == 200
        await eventually(received, timeout_s=60)

    officer = await as_role("programme-officer", "demo-municipality", user="olga@gemeente")
    await officer.click("nav >> text=Programma's")
    await officer.wait_for_selector("table.programmes")
    await axe_check(officer)
    await officer.locator("table.programmes a").first.click()
    await officer.wait_for_selector("table.pools")
    # Themes and levels as the funding API's code lists label them, not as codes.
    pools = await officer.locator("table.pools").inner_text()
    assert "Onderwijs" in pools and "Arbeidsmarkt" in pools, pools
    assert "labour-market" not in pools and "programme-area" not in pools, pools
    await axe_check(officer)
    await screenshot(officer, "programme")
    # An empty name: the API's message next to the field.
    await officer.click("button >> text=Opstellen")
    await officer.wait_for_selector("#name-fout")
    for name in ("Basis", "Variant"):
        await officer.fill("#name", name)
        await officer.click("button >> text=Opstellen")
        await officer.wait_for_selector("h1 >> text=Scenario:")
        if name == "Basis":
            first_url = officer.url
            await officer.click("main a >> nth=0")  # back to the programme
            await officer.wait_for_selector("table.pools")
    assert await officer.locator(".drafted-by").inner_text() == "olga@gemeente"
    lines = await officer.locator("table.lines").inner_text()
    assert "labour-market" not in lines and "education" not in lines, lines
    bounds = await officer.locator("table.lines tbody tr td:nth-child(7)").all_inner_texts()
    assert bounds and set(bounds) <= {"Ondergrens", "Plafond", "Geen"}, bounds
    assert "Veiligheid" in await officer.locator("table.totals").inner_text()
    # The drafter is told why there is no approve button.
    assert await officer.locator("button >> text=Goedkeuren").count() == 0
    assert "goedkeurder" in await officer.locator(".why-not").inner_text()
    await axe_check(officer)
    await screenshot(officer, "scenario-draft")
    async with officer.expect_download() as download:
        await officer.click("a.csv")
    csv = await (await download.value).path()
    assert "areaCode" in Path(csv).read_text().splitlines()[0]

    # Change the variant's input: a bad exponent gets the API's message next to its field,
    # the value kept; a good one makes a new version that differs from the first scenario.
    await officer.fill("#exponent", "0")
    await officer.click("form[action$='/invoer'] button")
    await officer.wait_for_selector("#exponent-fout")
    assert await officer.get_attribute("#exponent", "aria-invalid") == "true"
    assert "exponent" in await officer.locator("#exponent-fout").inner_text()
    assert await officer.input_value("#exponent") == "0"
    await axe_check(officer)
    await screenshot(officer, "scenario-input-error")
    await officer.fill("#exponent", "2")
    await officer.click("form[action$='/invoer'] button")
    await officer.wait_for_selector("text=Opgeslagen.")
    assert await officer.input_value("#exponent") == "2"
    assert (await officer.locator(".scenario-version").inner_text()).startswith("2 ")

    # Compare the two: a chart (plotly, served by the console) and the table behind it.
    await officer.select_option("#met", label="Basis (Concept)")
    await officer.click("button >> text=Vergelijken")
    await officer.wait_for_selector("[data-chart][data-drawn=yes]")
    assert await officer.locator("table.comparison tbody tr").count() >= 1
    differences = await officer.locator(
        "table.comparison tbody tr td:nth-child(4)").all_inner_texts()
    assert any(any(ch in "123456789" for ch in d) for d in differences), differences
    await axe_check(officer)
    await screenshot(officer, "scenario-compare")

    # The approver (another person) sees the button and approves.
    approver = await as_role("programme-approver", "demo-municipality", user="anton@gemeente")
    await approver.goto(first_url)
    assert "olga@gemeente" in await approver.locator(".drafted-by").inner_text()
    await approver.click("button >> text=Goedkeuren")
    await approver.wait_for_selector("text=Opgeslagen.")
    assert await approver.locator(".scenario-status").inner_text() == "Goedgekeurd"
    assert await approver.locator(".approved-by").inner_text() == "anton@gemeente"
    await axe_check(approver)
    await screenshot(approver, "scenario-approved")


async def test_analyst_map_ranking_and_area(as_role, stack):
    page = await as_role("analyst", "demo-municipality")
    await page.click("nav >> text=Kaart")
    await page.wait_for_selector("[data-chart][data-drawn=yes]")
    # Drawn by plotly's map trace, offline (blank style): the outlines are there.
    await page.wait_for_selector(".chart .maplibregl-canvas, .chart canvas")
    assert await page.locator("table.map-values tbody tr").count() > 0
    await axe_check(page)
    await screenshot(page, "analyst-map")
    # An indicator with withheld cells: they are listed with their reason.
    await page.select_option("#indicator", index=1)
    await page.click("button >> text=Tonen")
    await page.wait_for_selector("[data-chart][data-drawn=yes]")
    withheld = await page.locator("ul.withheld li").all_inner_texts()
    assert withheld and all(w.rsplit(": ", 1)[1] in
                            {"small-count", "small-denominator", "secondary", "no-data"}
                            for w in withheld), withheld
    await axe_check(page)
    await screenshot(page, "analyst-map-indicator")
    await page.click("text=Ranglijst")
    await page.wait_for_selector("table.ranking")
    # 580 demo buurten, a page of 100 at a time (a national ranking is 14,000 rows).
    assert await page.locator("table.ranking tbody tr").count() == 100
    await axe_check(page)
    await screenshot(page, "analyst-ranking")
    first = await page.locator("table.ranking tbody tr").all_inner_texts()
    await page.click("text=Volgende pagina")
    await page.wait_for_url("**/ranglijst?*cursor=*")
    await page.wait_for_selector("table.ranking")
    following = await page.locator("table.ranking tbody tr").all_inner_texts()
    assert len(following) == 100 and not set(first) & set(following)
    await page.locator("table.ranking a").first.click()
    await page.wait_for_selector("table.series")
    await page.wait_for_selector("[data-chart][data-drawn=yes]")
    await axe_check(page)
    await screenshot(page, "analyst-area")


KERNCIJFERS = (Path(__file__).resolve().parents[2] / "indicators" / "tests" / "data"
               / "kerncijfers_2023_nieuwegein_comma.csv")


async def test_admin_uploads_a_cbs_file_and_a_map_and_sees_the_reports(as_role, stack,
                                                                     tmp_path):
    page = await as_role("admin", "demo-municipality")
    await page.click("nav >> text=Beheer")
    await page.wait_for_selector("table.programme-areas")
    await axe_check(page)
    await screenshot(page, "admin")
    # No year: the API's message for `year` appears next to the year field.
    await page.set_input_files("#cbs-file", str(KERNCIJFERS))
    await page.click("form[action='/beheer/kerncijfers'] button")
    await page.wait_for_selector("#year-fout")
    assert await page.get_attribute("#year", "aria-invalid") == "true"
    await page.set_input_files("#cbs-file", str(KERNCIJFERS))
    await page.fill("#year", "2023")
    await page.click("form[action='/beheer/kerncijfers'] button")
    await page.wait_for_selector(".import-report")
    report = await page.locator(".import-report").inner_text()
    assert "Ingelezen voor 2023" in report and "nieuw" in report
    await axe_check(page)
    await screenshot(page, "admin-cbs-report")

    square = [[5.08, 52.02], [5.09, 52.02], [5.09, 52.03], [5.08, 52.03], [5.08, 52.02]]
    geojson = tmp_path / "kaart.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"buurtcode": "BU03560101", "buurtnaam": "Proef"},
        "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    await page.set_input_files("#map-file", str(geojson))
    await page.fill("#source", "proefkaart")
    await page.click("form[action='/beheer/kaart'] button")
    await page.wait_for_selector(".map-report")
    assert "1 nieuw of gewijzigd" in await page.locator(".map-report").inner_text()

    await page.fill("#pa-id", "PA-proef")
    await page.fill("#pa-name", "Proefgebied")
    await page.fill("#pa-buurtCodes", "BU03560101")
    await page.click("form[action='/beheer/programmagebieden'] button")
    await page.wait_for_selector("text=Opgeslagen.")
    assert "PA-proef" in await page.locator("table.programme-areas").inner_text()
    await axe_check(page)
