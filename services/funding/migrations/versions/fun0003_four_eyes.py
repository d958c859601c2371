"""four eyes: programmes belong to an organisation and know who last wrote their pools;
an approval records what it approved

Programmes created before this revision get the owner `DDK_FUNDING_PROGRAMME_OWNER_ORGANISATION`
(the funding settings, default `demo-municipality`) and their creator as the last editor of
their pools (nothing could edit them after creation). Approvals made before it keep no record.

Revision ID: fun0003
Revises: fun0002
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "fun0003"
down_revision: str | None = "fun0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owner() -> str:
    from services.funding.settings import Settings

    return Settings().programme_owner_organisation


def upgrade() -> None:
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pools_edited_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pools_edited_at", shared.db.UTCDateTime(timezone=True),
                                      nullable=True))
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM programmes")).scalar_one():
        conn.execute(sa.text(
            "UPDATE programmes SET organisation = :owner, pools_edited_by = created_by, "
            "pools_edited_at = created_at"), {"owner": _owner()})
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.alter_column("organisation", existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.alter_column("pools_edited_by", existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.alter_column("pools_edited_at",
                              existing_type=shared.db.UTCDateTime(timezone=True),
                              nullable=False)
        batch_op.create_index(batch_op.f("ix_programmes_organisation"), ["organisation"],
                              unique=False)
    with op.batch_alter_table("scenarios", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scenarios", schema=None) as batch_op:
        batch_op.drop_column("approval_json")
    with op.batch_alter_table("programmes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programmes_organisation"))
        batch_op.drop_column("pools_edited_at")
        batch_op.drop_column("pools_edited_by")
        batch_op.drop_column("organisation")
