"""unlink erased households from the outbox: a random statistics pseudonym in their events

Erasures before this revision left the household's statistics pseudonym in the outbox: in the
`signal-recorded` events of the erased signals and in the `signal-erased` (v1) events
themselves. Each gets a random value of the same shape, as erasure now does (see
`services.signals.retention.repository.unlink_recorded_events`), so the events stay valid
for a rebuild and tie nothing to a household. There is no way back: downgrade leaves them.

Revision ID: sig0003
Revises: sig0002
Create Date: 2026-11-29 09:30:00.000000
"""

import json
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sig0003"
down_revision: str | None = "sig0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The event types as they were named when this revision was written.
RECORDED = "nl.dichtdekloof.signals.signal-recorded.v1"
ERASED_V1 = "nl.dichtdekloof.signals.signal-erased.v1"


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, data FROM outbox WHERE type = :erased OR (type = :recorded AND subject IN "
        "(SELECT id FROM signals WHERE erased_at IS NOT NULL))"),
        {"erased": ERASED_V1, "recorded": RECORDED}).all()
    for row_id, data in rows:
        event = json.loads(data)
        if "householdStatsPseudonym" in event:
            event["householdStatsPseudonym"] = secrets.token_hex(32)
            conn.execute(sa.text("UPDATE outbox SET data = :data WHERE id = :id"),
                         {"data": json.dumps(event, separators=(",", ":")), "id": row_id})


def downgrade() -> None:
    pass  # the pseudonyms are gone for good, as erasure intends
