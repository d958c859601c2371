"""sync: the field apps' change feed and the clock correction of offline devices

`signals.change_position` places a signal in the change feed (`GET /v1/signals?changedSince=`);
null means changed and not yet numbered, so every signal stored before is numbered on the
first read of the feed. `change_feed_head` holds the last position given out (locked while
numbering). `signal_tombstones` tells the apps which signals to forget: one row per erased or
purged signal (id, organisation, reporter, kind, when; no personal data), also for those
erased or purged before this revision. `signals.clock_correction_seconds` is what intake
added to a device's moments (null: no `sentAt` sent).

Revision ID: sig0008_sync
Revises: sig0007
Create Date: 2026-12-04 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "sig0008_sync"
down_revision: str | None = "sig0008_referral_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNNUMBERED = sa.text("change_position IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_correction_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("change_position", BigId, nullable=True))
        batch_op.create_index("ix_signals_unnumbered", ["recorded_at", "id"], unique=False,
                              sqlite_where=UNNUMBERED, postgresql_where=UNNUMBERED)
        batch_op.create_index("ix_signals_feed", ["organisation", "reported_by",
                                                  "change_position"], unique=False)
    op.create_table(
        "signal_tombstones",
        sa.Column("signal_id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("erased_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("change_position", BigId, nullable=True),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_signal_tombstones")),
    )
    with op.batch_alter_table("signal_tombstones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_tombstones_change_position"),
                              ["change_position"], unique=False)
        batch_op.create_index("ix_signal_tombstones_feed",
                              ["organisation", "reported_by", "change_position"], unique=False)
    op.create_table(
        "change_feed_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", BigId, server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed_head")),
    )
    # Signals erased or purged before: the apps that still hold them must hear of it too.
    op.execute(
        "INSERT INTO signal_tombstones (signal_id, organisation, reported_by, kind, erased_at) "
        "SELECT id, organisation, reported_by, "
        "CASE WHEN erased_at IS NULL THEN 'purge' ELSE 'erasure' END, "
        "COALESCE(erased_at, personal_data_removed_at) "
        "FROM signals WHERE personal_data_removed_at IS NOT NULL OR erased_at IS NOT NULL")
    # What is stored is numbered here (in intake order, then the tombstones), not by the
    # first read of the feed: that read would number a whole database in one request.
    op.execute(
        "UPDATE signals SET change_position = numbered.n FROM (SELECT id, "
        "row_number() OVER (ORDER BY recorded_at, id) AS n FROM signals) AS numbered "
        "WHERE signals.id = numbered.id")
    op.execute(
        "UPDATE signal_tombstones SET change_position = numbered.n + "
        "(SELECT COUNT(*) FROM signals) FROM (SELECT signal_id, "
        "row_number() OVER (ORDER BY erased_at, signal_id) AS n FROM signal_tombstones) "
        "AS numbered WHERE signal_tombstones.signal_id = numbered.signal_id")
    op.execute("INSERT INTO change_feed_head (id, position) SELECT 1, "
               "(SELECT COUNT(*) FROM signals) + (SELECT COUNT(*) FROM signal_tombstones)")


def downgrade() -> None:
    op.drop_table("change_feed_head")
    with op.batch_alter_table("signal_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_tombstones_feed")
        batch_op.drop_index(batch_op.f("ix_signal_tombstones_change_position"))
    op.drop_table("signal_tombstones")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index("ix_signals_feed")
        batch_op.drop_index("ix_signals_unnumbered")
        batch_op.drop_column("change_position")
        batch_op.drop_column("clock_correction_seconds")
