"""One-shot job before a deployment: create the topics and migrate every service's database.

Run migrations here, never at service start-up: two replicas racing `create_all` break.
"""

from __future__ import annotations

import asyncio

from shared.kafka import all_topics, ensure_topics
from shared.migrate import SERVICES, upgrade
from shared.settings import ServiceSettings


def main() -> int:
    asyncio.run(ensure_topics(ServiceSettings(), all_topics()))
    print("topics ready:", ", ".join(all_topics()))
    for service in SERVICES:
        upgrade(service)
        print(f"{service}: migrated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
