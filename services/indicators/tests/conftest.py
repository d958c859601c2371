"""Fixtures of the indicators tests: the app with a fixed cell key, and a handle on its runtime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.indicators.runtime import IndicatorsRuntime
from services.indicators.tests.helpers import settle
from tests.apps import runtime_of

# A fixed secret: the noise of every published count is the same on every run.
TEST_CELL_KEY_SECRET = "dGVzdC1jZWxsLWtleS1zZWNyZXQtb2YtMzItYnl0ZXMh"


@dataclass
class Running:
    client: httpx.AsyncClient
    runtime: IndicatorsRuntime

    async def settle(self) -> None:
        """Bring the stored snapshots up to date, as the worker's rounds do."""
        await settle(self.runtime.snapshots)


@pytest.fixture
def indicators(start_service: Callable[..., Any]
               ) -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    """async with indicators(consumer_enabled=False) as svc: svc.client, svc.runtime."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Running]:
        overrides.setdefault("consumer_enabled", False)
        overrides.setdefault("relay_enabled", False)
        overrides.setdefault("indicator_publisher_enabled", False)
        overrides.setdefault("snapshot_worker", "inline")
        overrides.setdefault("snapshot_index_interval_s", 0.0)
        overrides.setdefault("snapshot_protect_interval_s", 0.0)
        overrides.setdefault("cell_key_secret", TEST_CELL_KEY_SECRET)
        async with start_service("indicators", **overrides) as client:
            yield Running(client, runtime_of(client, IndicatorsRuntime))

    return start
