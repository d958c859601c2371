"""Regenerate a service's initial migration from its models (while nothing is released).

    python scripts/regen_migration.py signals
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from tools.migrate import alembic_config
from tools.registry import service as registered

service = sys.argv[1]
versions = registered(service).migrations / "versions"
for old in versions.glob("*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(service, f"sqlite+aiosqlite:///{Path(tmp) / 'gen.db'}")
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id=f"{service[:3]}0001")
subprocess.run([sys.executable, "-m", "ruff", "format", str(versions)], check=False)
