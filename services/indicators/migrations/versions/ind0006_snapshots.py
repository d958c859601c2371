"""stored indicator snapshots: per period, per area, the marks and requests that feed them

Revision ID: ind0006
Revises: ind0005
Create Date: 2026-12-04 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "ind0006"
down_revision: str | None = "ind0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshot_marks",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("marked_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", "month", name=op.f("pk_snapshot_marks")),
    )
    op.create_table(
        "indicator_snapshots",
        sa.Column("period", sa.String(length=30), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data_until", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("method_version", sa.String(length=30), nullable=False),
        sa.Column("vulnerability_index", sa.Text(), nullable=False),
        sa.Column("index_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_indicator_snapshots")),
    )
    op.create_table(
        "indicator_snapshot_areas",
        sa.Column("period", sa.String(length=30), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("period", "code", name=op.f("pk_indicator_snapshot_areas")),
    )
    with op.batch_alter_table("indicator_snapshot_areas", schema=None) as batch_op:
        batch_op.create_index("ix_indicator_snapshot_areas_period_seq", ["period", "seq"],
                              unique=False)
    op.create_table(
        "indicator_snapshot_requests",
        sa.Column("period", sa.String(length=30), nullable=False),
        sa.Column("requested_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_indicator_snapshot_requests")),
    )


def downgrade() -> None:
    op.drop_table("indicator_snapshot_requests")
    with op.batch_alter_table("indicator_snapshot_areas", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_snapshot_areas_period_seq")
    op.drop_table("indicator_snapshot_areas")
    op.drop_table("indicator_snapshots")
    op.drop_table("snapshot_marks")
