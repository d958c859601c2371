"""hash stored Idempotency-Key values

A client may put anything in an `Idempotency-Key` (an address, a name), and it was stored as
sent. Each stored key becomes its keyed hash (`Crypto.idempotency_key_hash`, the operational
pseudonym key), as the service now writes and looks keys up: a replay with the same key still
finds its signal.

Hashing needs the service's operational key, so this revision reads the signals settings (the
same environment the service runs with) -- only when there are keys to hash. A hash cannot be
undone, and the older code would not recognise (and a second upgrade would hash again) a
hashed key: downgrade deletes the stored keys. A retry still replays by the signal's own id;
only a key reused for another body is then no longer caught.

Revision ID: sig0007
Revises: sig0006
Create Date: 2026-12-03 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sig0007"
down_revision: str | None = "sig0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT organisation, key FROM idempotency_keys")).all()
    if not rows:
        return
    from services.signals.crypto.keys import build_crypto
    from services.signals.settings import Settings

    crypto = build_crypto(Settings())
    for organisation, key in rows:
        conn.execute(sa.text("UPDATE idempotency_keys SET key = :hashed "
                             "WHERE organisation = :organisation AND key = :key"),
                     {"hashed": crypto.idempotency_key_hash(key),
                      "organisation": organisation, "key": key})


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")  # a hash cannot be undone (see above)
