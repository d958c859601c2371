"""One-shot jobs before a deployment: create the topics, migrate a service's database.

    python -m tools.deploy_init topics        # needs the brokers only, no secrets
    python -m tools.deploy_init signals       # with signals' own database role and keys
    python -m tools.deploy_init               # all of them (one machine, one environment)

Each service's migrations run in a job of their own, with that service's Secret only: a job
that migrated every database would need every service's credentials (and signals' keys,
which migration sig0004 encrypts with). Run migrations here, never at service start-up: two
replicas racing `create_all` break.
"""

from __future__ import annotations

import argparse
import asyncio

from shared.kafka import ensure_topics
from shared.settings import ServiceSettings
from tools.migrate import upgrade
from tools.registry import NAMES, all_topics

TOPICS = "topics"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("steps", nargs="*", metavar="|".join([TOPICS, *NAMES]))
    steps = parser.parse_args(argv).steps or [TOPICS, *NAMES]
    unknown = sorted(set(steps) - {TOPICS, *NAMES})
    if unknown:
        parser.error(f"unknown step(s): {', '.join(unknown)}")
    if TOPICS in steps:
        asyncio.run(ensure_topics(ServiceSettings(), all_topics()))
        print("topics ready:", ", ".join(all_topics()))
    for service in NAMES:
        if service in steps:
            upgrade(service)
            print(f"{service}: migrated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
