"""The console in a real browser against the real services with demo data, page by page:
the coordinator's pages, signing in, the keyboard, no JavaScript, English, a service that is
down. The other roles' pages are in test_browser_officers.py.

One stack for the whole package (see conftest): each test signs in as its role through the
dev sign-in page, opens its pages, asserts what the APIs said, clicks the real flows, checks
every page with axe-core (WCAG 2.1 A and AA) and saves a screenshot under var/.
"""

from __future__ import annotations

import httpx
import pytest

from services.console.tests.conftest import axe_check, screenshot

pytestmark = pytest.mark.timeout(120)


async def test_coordinator_queue_is_acute_first_and_filters(as_role, stack):
    page = await as_role("coordinator", "demo-corp-a")
    await axe_check(page)  # the start page
    await page.click("nav >> text=Werkvoorraad")
    await page.wait_for_selector("table.queue")
    assert await page.locator("h1").inner_text() == "Werkvoorraad"
    severities = await page.locator("table.queue tbody tr td:first-child").all_inner_texts()
    assert severities, "the demo data gives the coordinator a queue"
    # Acute first: no acute row after a non-acute one (labels from the API, not codes).
    assert set(severities) <= {"Acuut", "Hoog", "Gemiddeld", "Laag"}, severities
    acute = [s.strip() == "Acuut" for s in severities]
    assert acute == sorted(acute, reverse=True), severities
    # The order is the API's over all pages: past a non-acute row, no page holds an acute one.
    assert not acute[-1], "the demo data has fewer acute signals than a page holds"
    # Open work only by default: nothing closed, nothing erased.
    statuses = await page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert not {"Opgelost", "Gesloten zonder actie"} & set(statuses), statuses
    assert not await page.is_checked("#alle")
    await axe_check(page)
    await screenshot(page, "coordinator-queue")
    await page.click("text=Volgende pagina")
    await page.wait_for_url("**cursor=**")
    later = await page.locator("table.queue tbody tr td:first-child").all_inner_texts()
    assert later and "Acuut" not in later, later

    # Everything, closed signals too, still in the API's order.
    await page.goto("/werkvoorraad")
    await page.check("#alle")
    await page.click("button >> text=Filteren")
    await page.wait_for_url("**alle=1**")
    statuses = await page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert "Opgelost" in statuses, statuses
    assert await page.is_checked("#alle")
    await page.uncheck("#alle")

    await page.select_option("#status", "new")
    await page.click("button >> text=Filteren")
    await page.wait_for_url("**status=new**")
    statuses = await page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert statuses and set(statuses) == {"Nieuw"}
    # The filter's options are the API's code list, labelled.
    options = await page.locator("#status option").all_inner_texts()
    assert "Gesloten zonder actie" in options and "closed-no-action" not in options


async def test_coordinator_triages_and_refers_and_sees_the_outcome(as_role, stack, token):
    page = await as_role("coordinator", "demo-corp-a")
    await page.goto("/werkvoorraad?status=new&categorie=loneliness")
    await page.locator("table.queue a >> text=Openen").first.click()
    await page.wait_for_selector("h1 >> text=Signaal")
    signal_id = page.url.rsplit("/", 1)[1].split("?")[0]
    assert await page.locator(".signal-status").inner_text() == "Nieuw"
    # The read purposes are the API's for a coordinator (code-lists `roles`), labelled.
    read_purposes = await page.locator("#doel option").evaluate_all(
        "options => options.map(o => o.value)")
    assert sorted(read_purposes) == ["case-handling", "debt-outreach", "outreach", "triage"]
    assert "Beoordeling en doorverwijzing" in await page.locator("#doel").inner_text()
    # No personal data until a purpose is chosen; then the page says the read is logged.
    assert await page.locator(".personal-data").count() == 0
    await axe_check(page)
    await screenshot(page, "coordinator-signal")
    await page.select_option("#doel", "triage")
    await page.click("button >> text=Persoonsgegevens tonen")
    await page.wait_for_selector(".logged-note")
    assert "toegangslogboek" in await page.locator(".logged-note").inner_text()
    assert "doel=triage" in page.url
    await axe_check(page)

    # A status the workflow refuses: the API's problem shows, nothing changes.
    await page.select_option("#status", "resolved")
    await page.click("form[action$='/status'] button")
    await page.wait_for_selector(".problem")
    assert await page.locator(".signal-status").inner_text() == "Nieuw"

    # A reason longer than the API takes: its message next to the field, the text kept.
    await page.select_option("#status", "triaged")
    await page.fill("#reason", "x" * 501)
    await page.click("form[action$='/status'] button")
    await page.wait_for_selector("#reason-fout")
    assert await page.get_attribute("#reason", "aria-invalid") == "true"
    assert len(await page.input_value("#reason")) == 501
    await axe_check(page)
    await screenshot(page, "coordinator-field-error")

    await page.fill("#reason", "Eenzaamheid bevestigd bij huisbezoek")
    await page.click("form[action$='/status'] button")
    await page.wait_for_selector("text=Opgeslagen.")
    assert await page.locator(".signal-status").inner_text() == "Beoordeeld"
    assert "Nieuw → Beoordeeld" in await page.locator("table.history").inner_text()

    # The referral form offers the API's options (GET .../referral-options), and says why
    # the refused ones cannot go: no consent for the wijkteam yet.
    allowed = page.locator("#purpose optgroup[label='Toegestaan door het convenant'] option")
    refused = page.locator("#purpose optgroup[label='Niet toegestaan (zie hieronder)'] option")
    assert await refused.count() > 0
    assert "wijkteam-support" not in await allowed.evaluate_all("os => os.map(o => o.value)")
    why = await page.locator(".refused-options li[data-purpose='wijkteam-support']").text_content()
    assert why and "Toestemming ontbreekt" in why
    partners = await page.locator("#partnerOrganisation option").all_inner_texts()
    assert "Politie Demo (basisteam)" in partners

    # A referral the covenants refuse, chosen all the same, shows the API's refusal reasons.
    await page.select_option("#partnerOrganisation", "demo-police")
    await page.select_option("#purpose", "police-crime-report")
    await page.click("form[action$='/doorverwijzing'] button")
    await page.wait_for_selector(".refusals li")
    refusals = await page.locator(".refusals").inner_text()
    assert "Categorie valt niet onder het doel" in refusals  # the code's label, not the code
    assert "category-not-for-purpose" not in refusals
    await axe_check(page)
    await screenshot(page, "coordinator-referral-refused")

    # Recorded consent for the wijkteam purpose, through the API as the reporter would.
    signals = stack.urls["signals"]
    coordinator = {"Authorization": f"Bearer {token('coordinator', 'demo-corp-a')}"}
    async with httpx.AsyncClient(base_url=signals, headers=coordinator) as client:
        r = await client.post(f"/v1/signals/{signal_id}/consents",
                              json={"purpose": "wijkteam-support"})
        assert r.status_code in (201, 409), r.text
    await page.reload()
    assert "wijkteam-support" in await allowed.evaluate_all("os => os.map(o => o.value)")
    await page.select_option("#partnerOrganisation", "demo-municipality")
    await page.select_option("#purpose", "wijkteam-support")
    await page.click("form[action$='/doorverwijzing'] button")
    await page.wait_for_selector("table.referrals")
    referrals_table = await page.locator("table.referrals").inner_text()
    assert "Ondersteuning door het wijkteam" in referrals_table and "Verstuurd" in referrals_table
    assert "Toestemming (AVG" in referrals_table and "consent" not in referrals_table

    # The partner accepts and records an outcome over its API; the coordinator sees it.
    async with httpx.AsyncClient(base_url=signals, headers=coordinator) as client:
        referrals = (await client.get(f"/v1/signals/{signal_id}")).json()["referrals"]
        rid = referrals[-1]["id"]
    partner = {"Authorization": "Bearer " + token("partner", "demo-municipality",
                                                  team="wijkteam")}
    async with httpx.AsyncClient(base_url=signals, headers=partner) as client:
        r = await client.post(f"/v1/referrals/{rid}/acceptance", json={})
        assert r.status_code == 200, r.text
        r = await client.post(f"/v1/referrals/{rid}/outcome", json={"outcome": "contact-made"})
        assert r.status_code == 200, r.text
    await page.reload()
    await page.wait_for_selector("ul.outcomes")
    assert "Contact gelegd" in await page.locator("ul.outcomes").inner_text()
    await screenshot(page, "coordinator-outcome")


async def test_sign_in_page_and_english(browser, stack):
    context = await browser.new_context(base_url=stack.console_url, locale="en-GB",
                                        extra_http_headers={"Accept-Language": "en-GB,en"})
    page = await context.new_page()
    response = await page.goto("/werkvoorraad")
    assert page.url.endswith("/aanmelden")
    headers = response.headers if response else {}
    assert "script-src 'self'" in headers["content-security-policy"]
    assert await page.locator("h1").inner_text() == "Sign in"
    await axe_check(page)
    await screenshot(page, "sign-in")
    cookies = await context.cookies()
    session = next(c for c in cookies if c["name"] == "ddk_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    await page.click("text=Nederlands")
    assert await page.locator("h1").inner_text() == "Aanmelden"
    await context.close()


async def test_keyboard_reaches_the_skip_link_first_and_it_moves_focus(as_role):
    page = await as_role("coordinator", "demo-corp-a")
    await page.goto("/werkvoorraad")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip-link utrecht-link"
    assert await page.locator(".skip-link").is_visible()  # visible when focused
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "inhoud"
    # Then on through the filters, each with a visible focus outline.
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.id")
    assert focused == "buurt"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


async def test_pages_work_without_javascript(browser, stack):
    """Progressive enhancement: htmx only speeds pages up; forms work as plain HTML."""
    context = await browser.new_context(base_url=stack.console_url, locale="nl-NL",
                                        java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    await page.goto("/aanmelden")
    await page.select_option("#role", "coordinator")
    await page.click("button[type=submit] >> text=Aanmelden")
    await page.goto("/werkvoorraad")
    await page.select_option("#status", "triaged")
    await page.click("button >> text=Filteren")
    await page.wait_for_url("**status=triaged**")
    statuses = await page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert statuses and set(statuses) == {"Beoordeeld"}
    await context.close()


async def test_a_page_in_english(as_role):
    page = await as_role("coordinator", "demo-corp-a", lang="en")
    await page.goto("/werkvoorraad")
    assert await page.locator("h1").inner_text() == "Queue"
    assert await page.locator("html").get_attribute("lang") == "en"
    statuses = await page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts()
    assert statuses and set(statuses) <= {"New", "Triaged", "Referred", "In progress",
                                          "Resolved", "Closed without action"}, statuses
    # A signal's page in English: the referral options' labels and reasons too.
    await page.locator("table.queue a >> text=Open").first.click()
    await page.wait_for_selector("#purpose")
    groups = await page.locator("#purpose optgroup").evaluate_all(
        "gs => gs.map(g => g.label)")
    assert set(groups) <= {"Allowed by the covenant", "Not allowed (see below)"}, groups
    why = await page.locator(".refused-options summary").text_content()
    assert why and why.startswith("Why these referrals cannot be made")
    await axe_check(page)
    await axe_check(page)
    await screenshot(page, "coordinator-queue-en")


async def test_a_service_that_is_down_shows_a_plain_dutch_message(browser, stack, key_dir):
    """A console whose signals service does not answer: a message, never a stack trace."""
    from services.console.app import build
    from services.console.settings import Settings
    from services.console.tests.conftest import start_server
    from tools.broker import free_port

    port = free_port()
    console = build(Settings(signals_url=f"http://127.0.0.1:{free_port()}",
                             indicators_url=stack.urls["indicators"],
                             funding_url=stack.urls["funding"],
                             dev_signin_key_file=str(key_dir / "issuer-private.pem"),
                             log_json=False))
    server, task = await start_server(console, port)
    try:
        context = await browser.new_context(base_url=f"http://127.0.0.1:{port}",
                                            locale="nl-NL")
        page = await context.new_page()
        await page.goto("/aanmelden")
        await page.select_option("#role", "coordinator")
        await page.click("button[type=submit] >> text=Aanmelden")
        response = await page.goto("/werkvoorraad")
        assert response is not None and response.status == 503
        message = await page.locator(".message").inner_text()
        assert "De dienst signalen is nu niet bereikbaar" in message
        assert "Traceback" not in await page.content()
        await axe_check(page)
        await screenshot(page, "service-down")
        await context.close()
    finally:
        server.should_exit = True
        await task
