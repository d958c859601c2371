"""One real platform for all the console's browser tests: broker, the three services with
their demo data, the console, and a headless Chromium, started once per test package.

The services run in this process under uvicorn on free ports (real HTTP, real broker, SQLite
files under a temporary folder), so the console reaches them exactly as in `make run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page

from services.console.app import build as build_console
from services.console.settings import Settings as ConsoleSettings
from shared.db import engine_for, sessionmaker
from shared.kafka import ensure_topics
from shared.settings import VAR, ServiceSettings
from tests.browser import launch_chromium
from tools.broker import embedded_broker, free_port
from tools.migrate import upgrade
from tools.registry import SERVICES, all_topics

SCREENSHOTS = VAR / "console-screenshots"


class QuietServer(uvicorn.Server):
    """uvicorn inside the test's event loop: signals stay with pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_server(app: FastAPI, port: int) -> tuple[QuietServer, asyncio.Task[None]]:
    server = QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


@dataclass
class Stack:
    console_url: str
    urls: dict[str, str]
    servers: dict[str, tuple[QuietServer, asyncio.Task[None]]] = field(default_factory=dict)
    settings: dict[str, ServiceSettings] = field(default_factory=dict)

    async def stop(self, name: str) -> None:
        server, task = self.servers.pop(name)
        server.should_exit = True
        await task


@pytest.fixture(scope="package")
async def stack(tmp_path_factory: pytest.TempPathFactory, key_dir: Path) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("console-stack")
    with embedded_broker() as broker:
        ports = {s.name: free_port() for s in SERVICES}
        stack = Stack(console_url=f"http://127.0.0.1:{free_port()}",
                      urls={n: f"http://127.0.0.1:{p}" for n, p in ports.items()})
        common: dict[str, Any] = {
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "kafka_session_timeout_ms": 6000, "kafka_heartbeat_interval_ms": 500,
            "auth_public_key_file": str(key_dir / "issuer-public.pem"),
            "relay_poll_interval_s": 0.05, "rate_limit_per_second": 0, "log_json": False,
            "log_level": os.environ.get("TEST_LOG_LEVEL", "WARNING")}
        await ensure_topics(SERVICES[0].settings(**common), all_topics())
        try:
            for service in SERVICES:
                url = f"sqlite+aiosqlite:///{folder / (service.name + '.db')}"
                settings = service.settings(database_url=url, port=ports[service.name],
                                            **common)
                stack.settings[service.name] = settings
                await asyncio.to_thread(upgrade, service.name, url)
                loader = service.demo()
                if loader is not None:
                    engine = engine_for(settings)
                    try:
                        await loader(sessionmaker(engine), settings)
                    finally:
                        await engine.dispose()
                stack.servers[service.name] = await start_server(
                    service.build(settings), ports[service.name])
            # The indicators' snapshot worker publishes the demo data's figures once it has
            # computed them; funding turns them into inputs (and recomputes drafts). Tests
            # start once that has settled, so no draft changes under a test's hands.
            await _settled(folder)
            console = ConsoleSettings(
                signals_url=stack.urls["signals"], indicators_url=stack.urls["indicators"],
                funding_url=stack.urls["funding"],
                dev_signin_key_file=str(key_dir / "issuer-private.pem"),
                session_secret="test-secret", log_json=False)
            stack.servers["console"] = await start_server(
                build_console(console), int(stack.console_url.rsplit(":", 1)[1]))
            yield stack
        finally:
            for name in list(stack.servers)[::-1]:
                await stack.stop(name)


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as b:
        yield b


@pytest.fixture
async def as_role(browser: Browser, stack: Stack) -> AsyncIterator[Any]:
    """`page = await as_role("coordinator", "demo-corp-a")`: a fresh browser context, signed
    in through the dev sign-in page like a person would."""
    contexts = []

    async def sign_in(role: str, organisation: str, user: str = "", lang: str = "nl") -> Page:
        context = await browser.new_context(base_url=stack.console_url,
                                            locale="nl-NL" if lang == "nl" else "en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        await page.goto("/aanmelden")
        await page.select_option("#role", role)
        await page.select_option("#organisation", organisation)
        if user:
            await page.fill("#user", user)
        await page.click("button[type=submit] >> text=Aanmelden" if lang == "nl"
                         else "button[type=submit] >> text=Sign in")
        await page.wait_for_url(stack.console_url + "/")
        return page

    yield sign_in
    for c in contexts:
        await c.close()


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def axe_check(page: Page) -> None:
    """No WCAG 2.1 A/AA violations on the page as it is now (axe-core in the page)."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": {
        "type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    violations = results.response["violations"]
    assert not violations, "\n".join(
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})"
        for v in violations)


async def _settled(folder: Path, timeout_s: float = 120.0) -> None:
    """Until the indicators have no unpublished change and funding holds what was published
    (its inputs unchanged for a second)."""
    def counts() -> tuple[int, int]:
        with sqlite3.connect(folder / "indicators.db") as ind, \
                sqlite3.connect(folder / "funding.db") as fun:
            dirty = ind.execute("SELECT count(*) FROM dirty_areas").fetchone()[0]
            unsent = ind.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
            inputs = fun.execute("SELECT count(*) FROM area_indicator_inputs").fetchone()[0]
        return dirty + unsent, inputs

    deadline = time.monotonic() + timeout_s
    last: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        now = await asyncio.to_thread(counts)
        if now[0] == 0 and now == last:
            return
        last = now
        await asyncio.sleep(1.0)
    raise AssertionError(f"the demo data's figures did not settle: {last}")
