"""Write each service's OpenAPI document to a folder (for the conformance linter)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tools.registry import SERVICES


def main(out: str) -> int:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (folder / f"{service.name}.json").write_text(
            json.dumps(service.build().openapi(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "var/openapi"))
