"""The API documentation page in a real browser: offline, under its strict CSP, over real HTTP.

The signals service runs as a uvicorn process; Chromium opens `/v1/docs` with every request
that leaves 127.0.0.1 blocked (as on a machine without internet) and recorded, and the page
must still list the operations without one CSP violation or script error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.procs import uvicorn
from services.signals.tests.conftest import TEST_KEYS
from shared.docs_page import CSP
from tests.browser import launch_chromium
from tools.broker import EmbeddedBroker
from tools.migrate import upgrade


@pytest.fixture
def signals_port(tmp_path: Path, broker: EmbeddedBroker, key_dir: Path) -> Iterator[int]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'signals.db'}"
    upgrade("signals", url)
    env = {"DDK_SIGNALS_DATABASE_URL": url,
           "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
           "DDK_AUTH_PUBLIC_KEY_FILE": str(key_dir / "issuer-public.pem"),
           "DDK_SIGNALS_RELAY_ENABLED": "false", "DDK_LOG_LEVEL": "WARNING",
           **{f"DDK_SIGNALS_{k.upper()}": str(v) for k, v in TEST_KEYS.items()}}
    with uvicorn("services.signals.app:app", env, factory=True) as (port, _):
        yield port


@pytest.mark.timeout(120)
async def test_the_docs_page_lists_the_operations_offline_under_a_strict_csp(signals_port):
    origin = f"http://127.0.0.1:{signals_port}"
    requested: list[str] = []
    outside: list[str] = []
    console: list[str] = []
    errors: list[str] = []
    async with launch_chromium() as browser:
        page = await browser.new_page()

        async def offline(route, request) -> None:
            requested.append(request.url)
            if request.url.startswith(origin + "/") or request.url.startswith("data:"):
                await route.continue_()
            else:
                outside.append(request.url)
                await route.abort()

        await page.route("**/*", offline)
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(str(e)))

        answer = await page.goto(f"{origin}/v1/docs")
        assert answer is not None and answer.status == 200
        policy = (await answer.all_headers())["content-security-policy"]
        assert policy == CSP and "unsafe" not in policy

        await page.wait_for_selector(".opblock", timeout=30_000)
        operations = await page.locator(".opblock").count()
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        title = await page.locator(".info .title").inner_text()
        await page.close()

    assert outside == [], f"requests left 127.0.0.1: {outside}"
    assert f"{origin}/v1/openapi.json" in requested
    assert operations >= 10, operations
    assert any(p.replace("\u200b", "") == "/signals/batch" for p in paths), paths
    assert "signals" in title.lower()
    violations = [c for c in console if "Content Security Policy" in c or "Refused" in c]
    assert violations == [], violations
    assert errors == [], errors
    assert not [c for c in console if c.startswith("error")], console


async def test_only_the_page_files_are_served(start_service):
    async with start_service("funding", relay_enabled=False, consumer_enabled=False) as c:
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js", "favicon.png"):
            r = await c.get(f"/v1/docs/{name}")
            assert r.status_code == 200, name
            assert r.headers["Cache-Control"].startswith("public")
        for name in ("redoc.standalone.js", "..%2Fcore.py", "consts.py"):
            assert (await c.get(f"/v1/docs/{name}")).status_code == 404, name
        page = await c.get("/v1/docs")
        assert page.headers["Content-Security-Policy"] == CSP
        assert "<script>" not in page.text and "cdn" not in page.text.lower()
        api = await c.get("/v1/openapi.json")  # every other answer keeps the default policy
        assert api.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert "/v1/docs" not in api.json()["paths"]
