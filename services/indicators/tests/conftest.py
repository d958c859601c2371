"""Fixtures of the indicators tests: the real app over ASGI, with a handle on its runtime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.indicators.app import build
from services.indicators.runtime import IndicatorsRuntime

# A fixed secret: the noise of every published count is the same on every run.
TEST_CELL_KEY_SECRET = "dGVzdC1jZWxsLWtleS1zZWNyZXQtb2YtMzItYnl0ZXMh"


@dataclass
class Running:
    client: httpx.AsyncClient
    runtime: IndicatorsRuntime


@pytest.fixture
def indicators(service_settings: Callable[..., Any]
               ) -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    """async with indicators(consumer_enabled=False) as svc: svc.client, svc.runtime."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Running]:
        overrides.setdefault("consumer_enabled", False)
        overrides.setdefault("relay_enabled", False)
        overrides.setdefault("indicator_publisher_enabled", False)
        overrides.setdefault("indicator_cache_s", 0.0)
        overrides.setdefault("cell_key_secret", TEST_CELL_KEY_SECRET)
        app = build(service_settings("indicators", **overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(client, app.state.runtime)

    return start
