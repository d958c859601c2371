"""area geometries: outlines of gemeenten, wijken and buurten for maps

Revision ID: ind0005
Revises: ind0004
Create Date: 2026-12-04 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "ind0005"
down_revision: str | None = "ind0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_geometries",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("parent_code", sa.String(length=10), nullable=True),
        sa.Column("gemeente_code", sa.String(length=6), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_area_geometries")),
    )
    with op.batch_alter_table("area_geometries", schema=None) as batch_op:
        batch_op.create_index("ix_area_geometries_level_gemeente",
                              ["level", "gemeente_code", "code"], unique=False)
        batch_op.create_index("ix_area_geometries_level_parent",
                              ["level", "parent_code", "code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("area_geometries", schema=None) as batch_op:
        batch_op.drop_index("ix_area_geometries_level_parent")
        batch_op.drop_index("ix_area_geometries_level_gemeente")
    op.drop_table("area_geometries")
