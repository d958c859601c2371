"""stored indicator snapshots: whether a period's public side waits for a protection

Revision ID: ind0007
Revises: ind0006
Create Date: 2026-12-06 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ind0007"
down_revision: str | None = "ind0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicator_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_behind", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("indicator_snapshots", schema=None) as batch_op:
        batch_op.drop_column("public_behind")
