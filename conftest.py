"""Fixtures for every test: the real broker, real databases, real apps over ASGI."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import hypothesis
import pytest

from shared.settings import ServiceSettings
from tests.apps import serve
from tests.pgserver import DEFAULT_ADMIN_DSN
from tools import registry
from tools.broker import QUICK_GROUPS, EmbeddedBroker, embedded_broker
from tools.devtoken import ensure_key_pair, mint
from tools.migrate import upgrade

# Property tests explore at random where people run them: that is how they found the
# composite's lost spread and the funding report's rounding. CI (`.ci/run`) runs them
# derandomized, so that its verdict on a clean clone depends on the code alone.
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("DDK_HYPOTHESIS_PROFILE"):
    hypothesis.settings.load_profile(os.environ["DDK_HYPOTHESIS_PROFILE"])


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
                **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, org, sub, **claims)}"}

    return headers


# `make test` points this at an embedded server where none answers here (tests/pgserver.py).
PG_ADMIN_DSN = os.environ.get("DDK_TEST_POSTGRES", DEFAULT_ADMIN_DSN)


def _blocking(coro: Any) -> Any:
    """Run a coroutine to completion from sync or async code (on its own thread and loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(params=[os.environ.get("DDK_TEST_DATABASE", "sqlite")])
def database_kind(request: pytest.FixtureRequest) -> str:
    """sqlite (default) or postgresql; parametrise indirectly to run a test on both."""
    return str(request.param)


class MigratedTemplates:
    """Each service's schema, migrated once a session per database kind, to copy from.

    Migrating a fresh database costs a fifth to half a second a test, on SQLite and more on
    PostgreSQL; a copy of a database migrated the same way costs next to nothing (a file copy,
    CREATE DATABASE ... TEMPLATE). The migrations themselves still run: once a session here
    onto an empty database, and step by step in each service's test_migrations.py.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.made: dict[tuple[str, str], str] = {}

    def template(self, kind: str, service: str) -> str:
        """The SQLite file or PostgreSQL database of `service`'s schema, at head."""
        if (kind, service) not in self.made:
            if kind == "sqlite":
                path = self.directory / f"{service}.db"
                upgrade(service, f"sqlite+aiosqlite:///{path}")
                self.made[kind, service] = str(path)
            else:
                db = f"ddk_test_template_{service}_{uuid.uuid4().hex[:10]}"
                _blocking(_pg(f'CREATE DATABASE "{db}"'))
                self.made[kind, service] = db  # dropped at the end even if upgrade fails
                upgrade(service, _pg_url(db))
        return self.made[kind, service]

    def drop(self) -> None:
        for (kind, _), db in self.made.items():
            if kind == "postgresql":
                _blocking(_pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


def _pg_url(db: str) -> str:
    host = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host}/{db}"


@pytest.fixture
def database_url(tmp_path: Path, database_kind: str, migrated_templates: MigratedTemplates,
                 ) -> Iterator[Callable[..., str]]:
    """database_url("signals") -> a fresh, empty database of the chosen kind;
    database_url("signals", migrated="signals") -> a fresh one with signals' schema at head."""
    created: list[str] = []

    def make(name: str, migrated: str | None = None) -> str:
        template = migrated and migrated_templates.template(database_kind, migrated)
        if database_kind == "sqlite":
            path = tmp_path / (name + ".db")
            if template:
                shutil.copyfile(template, path)
            return f"sqlite+aiosqlite:///{path}"
        db = f"ddk_test_{name}_{uuid.uuid4().hex[:10]}"
        _blocking(_pg(f'CREATE DATABASE "{db}"' + (f' TEMPLATE "{template}"' if template else "")))
        created.append(db)
        return _pg_url(db)

    yield make
    for db in created:
        _blocking(_pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.fixture
def service_settings(
    database_url: Callable[..., str], broker: EmbeddedBroker, key_dir: Path
) -> Callable[..., ServiceSettings]:
    """Settings for a service on a fresh, migrated database and the test broker."""

    def make(service: str, **overrides: Any) -> ServiceSettings:
        url = overrides.pop("database_url", None)
        if url:
            upgrade(service, url)
        else:
            url = database_url(service, migrated=service)
        values: dict[str, Any] = {
            "database_url": url,
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            **QUICK_GROUPS,
            "auth_public_key_file": str(key_dir / "issuer-public.pem"),
            "relay_poll_interval_s": 0.05,
            "rate_limit_per_second": 0,
            "log_json": False,
            "log_level": os.environ.get("TEST_LOG_LEVEL", "WARNING"),
        }
        values.update(overrides)
        return registry.service(service).settings(**values)

    return make


@pytest.fixture
def start_service(
    service_settings: Callable[..., ServiceSettings],
) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """async with start_service("signals", relay_enabled=False) as client: ...

    The app runs with its relay and consumers as configured; `runtime_of(client)` (from
    tests.apps) is its runtime.
    """

    def start(service: str, **overrides: Any) -> contextlib.AbstractAsyncContextManager[
            httpx.AsyncClient]:
        settings = service_settings(service, **overrides)
        return serve(registry.service(service).build(settings))

    return start
