"""Apply a service's Alembic migrations: `python -m tools.migrate signals indicators funding`."""

from __future__ import annotations

import argparse

from alembic import command
from alembic.config import Config

from tools.registry import NAMES, service


def alembic_config(name: str, url: str | None = None) -> Config:
    s = service(name)
    cfg = Config()
    cfg.set_main_option("script_location", str(s.migrations))
    settings = s.settings()
    cfg.attributes["url"] = url or settings.sqlalchemy_url()
    cfg.attributes["settings"] = settings  # the connection's TLS, as the service's own
    return cfg


def upgrade(name: str, url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(name, url), revision)


def downgrade(name: str, url: str | None = None, revision: str = "-1") -> None:
    command.downgrade(alembic_config(name, url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="*", metavar="|".join(NAMES))
    parser.add_argument("--revision", default="head")
    args = parser.parse_args(argv)
    for name in args.services or NAMES:
        upgrade(name, revision=args.revision)
        print(f"{name}: migrated to {args.revision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
