"""cell keys: each fact's household record key and recording organisation

Revision ID: ind0004
Revises: ind0003
Create Date: 2026-12-03 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ind0004"
down_revision: str | None = "ind0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = ["area_code", "household_stats_pseudonym", "month", "category", "acute"]


def upgrade() -> None:
    # Nullable: the service fills the record keys of existing facts at start (it alone holds
    # the secret); an unknown organisation counts in no organisation's own figures.
    with op.batch_alter_table("signal_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("record_key", sa.BigInteger(), nullable=True))
        batch_op.drop_index("ix_signal_facts_area_household")
        batch_op.create_index("ix_signal_facts_area_household",
                              [*OLD_INDEX, "record_key", "recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signal_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_facts_area_household")
        batch_op.create_index("ix_signal_facts_area_household", OLD_INDEX, unique=False)
        batch_op.drop_column("record_key")
        batch_op.drop_column("organisation")
