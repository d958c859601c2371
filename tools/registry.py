"""The services of the platform: what the tools, the tests' fixtures and CI need of each.

The one list of services. A new service is added here (and given its topics in
`shared.contracts.topics`); `make run`, `make migrate`, the deploy jobs, `make conformance`
and the root `conftest.py` then find it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.contracts.topics import BY_NAME, TOPICS
from shared.kafka import dlq_topic
from shared.settings import ROOT, ServiceSettings


def _load(path: str) -> Any:
    """`package.module:attribute` -> the attribute."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Service:
    name: str
    #: `build(settings) -> FastAPI`, as `module:function`.
    app_factory: str
    #: The uvicorn factory (`uvicorn --factory`), as `module:function`.
    asgi_factory: str
    #: The service's `ServiceSettings` subclass, as `module:Class`.
    settings_class: str
    #: Its Alembic history.
    migrations: Path
    #: `async load_demo(sessions, settings)` for `make run`, as `module:function`, if any.
    demo_loader: str | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics it publishes (from the contracts)."""
        return tuple(t.name for t in TOPICS if t.sender == self.name)

    @property
    def port(self) -> int:
        """Its default port (the settings class's; `DDK_<SERVICE>_PORT` overrides it)."""
        return int(self.settings_type().model_fields["port"].default)

    def settings_type(self) -> type[ServiceSettings]:
        cls: type[ServiceSettings] = _load(self.settings_class)
        return cls

    def settings(self, **values: Any) -> ServiceSettings:
        """Its settings from the environment, `values` taking precedence."""
        return self.settings_type()(**values)

    def build(self, settings: ServiceSettings | None = None) -> FastAPI:
        factory: Callable[..., FastAPI] = _load(self.app_factory)
        return factory(settings) if settings is not None else factory()

    def demo(self) -> Callable[..., Any] | None:
        return _load(self.demo_loader) if self.demo_loader else None


def _service(name: str, *, demo: bool = True) -> Service:
    package = f"services.{name}"
    return Service(
        name=name,
        app_factory=f"{package}.app:build",
        asgi_factory=f"{package}.app:app",
        settings_class=f"{package}.settings:Settings",
        migrations=ROOT / "services" / name / "migrations",
        demo_loader=f"{package}.demo:load_demo" if demo else None,
    )


#: In the order they start: each one's readers start after its writers.
SERVICES: tuple[Service, ...] = (_service("signals"), _service("indicators"), _service("funding"))

NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)

_BY_NAME = {s.name: s for s in SERVICES}


@dataclass(frozen=True)
class Frontend:
    """A deployable that serves people, not an API: no database, no topics, no OpenAPI
    document (so `make conformance` and the migrations leave it out)."""

    name: str
    #: `build(settings) -> FastAPI`, as `module:function`.
    app_factory: str
    #: The uvicorn factory (`uvicorn --factory`), as `module:function`.
    asgi_factory: str
    #: Its settings class, as `module:Class`.
    settings_class: str

    @property
    def port(self) -> int:
        return int(self.settings_type().model_fields["port"].default)

    def settings_type(self) -> type[ServiceSettings]:
        cls: type[ServiceSettings] = _load(self.settings_class)
        return cls

    def settings(self, **values: Any) -> ServiceSettings:
        return self.settings_type()(**values)


#: Started after the services, whose APIs they call.
FRONTENDS: tuple[Frontend, ...] = (Frontend(
    name="console", app_factory="services.console.app:build",
    asgi_factory="services.console.app:app", settings_class="services.console.settings:Settings"),)


def service(name: str) -> Service:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no service {name!r}; the services are {', '.join(NAMES)}") from None


def all_topics() -> list[str]:
    """Every topic to create before the services start, dead-letter topics included."""
    names: list[str] = []
    for s in SERVICES:
        for topic in s.topics:
            names.append(topic)
            if BY_NAME[topic].dead_letters:
                names.append(dlq_topic(topic))
    return names


def main() -> int:
    """`python -m tools.registry`: the services' names, one a line (for shell loops)."""
    print("\n".join(NAMES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
