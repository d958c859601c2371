"""pseudonym retention: settled periods, per-fact count bits, the pseudonym nullable

Revision ID: ind0003
Revises: ind0002
Create Date: 2026-12-03 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ind0003"
down_revision: str | None = "ind0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BITS = ("household_windows", "category_windows", "stacked_windows")


def upgrade() -> None:
    op.create_table(
        "settled_periods",
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("last_month", name=op.f("pk_settled_periods")),
    )
    with op.batch_alter_table("signal_facts", schema=None) as batch_op:
        for column in BITS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False,
                                          server_default="0"))
        batch_op.alter_column("household_stats_pseudonym", existing_type=sa.String(length=64),
                              nullable=True)


def downgrade() -> None:
    # Facts whose pseudonym is gone cannot be counted per household any more: without the
    # bits that carry their counts, they are dropped rather than miscounted.
    op.execute("DELETE FROM signal_facts WHERE household_stats_pseudonym IS NULL")
    with op.batch_alter_table("signal_facts", schema=None) as batch_op:
        batch_op.alter_column("household_stats_pseudonym", existing_type=sa.String(length=64),
                              nullable=False)
        for column in BITS:
            batch_op.drop_column(column)
    op.drop_table("settled_periods")
