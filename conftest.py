"""Fixtures for every test: the real broker, real databases, real apps over ASGI."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.broker import EmbeddedBroker, embedded_broker
from shared.devtoken import ensure_key_pair, mint
from shared.migrate import upgrade
from shared.settings import ServiceSettings


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One Tansu broker for the session (each test uses its own topics' consumer groups)."""
    with embedded_broker() as b:
        yield b


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    ensure_key_pair(path)
    return path


@pytest.fixture(scope="session")
def token(key_dir: Path) -> Callable[..., str]:
    """token("field-worker", "demo-corp-a", sub="u1") -> a signed bearer token."""

    def make(role: str | list[str], org: str, sub: str | None = None, **kw: Any) -> str:
        roles = [role] if isinstance(role, str) else role
        return mint(roles, org, sub, key_dir=key_dir, **kw)

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(role: str | list[str], org: str = "demo-corp-a", sub: str | None = None,
                ) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, org, sub)}"}

    return headers


@pytest.fixture
def service_settings(
    tmp_path: Path, broker: EmbeddedBroker, key_dir: Path
) -> Callable[..., ServiceSettings]:
    """Settings for a service on a fresh, migrated SQLite file and the test broker."""

    def make(service: str, **overrides: Any) -> ServiceSettings:
        module = importlib.import_module(f"services.{service}.settings")
        url = overrides.pop("database_url", None) or (
            f"sqlite+aiosqlite:///{tmp_path / (service + '.db')}")
        upgrade(service, url)
        values: dict[str, Any] = {
            "database_url": url,
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "kafka_session_timeout_ms": 6000,
            "kafka_heartbeat_interval_ms": 500,
            "auth_public_key_file": str(key_dir / "issuer-public.pem"),
            "relay_poll_interval_s": 0.05,
            "log_json": False,
            "log_level": os.environ.get("TEST_LOG_LEVEL", "WARNING"),
        }
        values.update(overrides)
        settings: ServiceSettings = module.Settings(**values)
        return settings

    return make


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over HTTP through ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def start_service(
    service_settings: Callable[..., ServiceSettings],
) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """async with start_service("signals", relay_enabled=False) as client: ..."""

    def start(service: str, **overrides: Any) -> contextlib.AbstractAsyncContextManager[
            httpx.AsyncClient]:
        settings = service_settings(service, **overrides)
        module = importlib.import_module(f"services.{service}.app")
        return serve(module.build(settings))

    return start
