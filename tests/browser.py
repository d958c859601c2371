"""A real browser for page tests: Playwright for Python driving Debian's Chromium.

Playwright's own browser download is not reachable from every machine (nor from locked-down
government networks), so the browser is the system's Chromium, found at `DDK_CHROMIUM` or on
the PATH. `.ci/run` installs it when it is missing; where it cannot be installed the tests
fail with the message below rather than skip, so a page nobody opened is never called tested.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

MISSING = ("No Chromium found for the browser tests: install Debian's `chromium` "
           "(apt-get install chromium) or point DDK_CHROMIUM at a Chromium binary.")


def chromium_path() -> str:
    for candidate in (os.environ.get("DDK_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(MISSING, pytrace=False)


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for one test module (start-up costs about half a second)."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            await browser.close()
