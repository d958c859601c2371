"""`make asyncapi`: write the platform's AsyncAPI document (shared.asyncapi) to a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.asyncapi import build_document


def main(out: str = "docs/asyncapi.json") -> int:
    Path(out).write_text(json.dumps(build_document(), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
