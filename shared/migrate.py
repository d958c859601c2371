"""Apply a service's Alembic migrations: `python -m shared.migrate signals indicators funding`."""

from __future__ import annotations

import argparse
import importlib

from alembic import command
from alembic.config import Config

from shared.settings import ROOT, ServiceSettings

SERVICES = ("signals", "indicators", "funding")


def service_settings(service: str) -> ServiceSettings:
    module = importlib.import_module(f"services.{service}.settings")
    settings: ServiceSettings = module.Settings()
    return settings


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    settings = service_settings(service)
    cfg.attributes["url"] = url or settings.sqlalchemy_url()
    cfg.attributes["settings"] = settings  # the connection's TLS, as the service's own
    return cfg


def upgrade(service: str, url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def downgrade(service: str, url: str | None = None, revision: str = "-1") -> None:
    command.downgrade(alembic_config(service, url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    for service in args.services:
        upgrade(service, revision=args.revision)
        print(f"{service}: migrated to {args.revision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
