"""four eyes: programmes belong to an organisation and know who last wrote their pools;
an approval records what it approved

Programmes created before this revision get the owner `DDK_FUNDING_PROGRAMME_OWNER_ORGANISATION`
(the funding settings, default `demo-municipality`) and their creator as the last editor of
their pools (nothing could edit them after creation). Approvals made before it keep no record.

The columns are added in place, never by copying the table: SQLite cannot copy `programmes`
while `scenarios` refers to it with foreign keys on. So they get an empty default on SQLite
(no principal has an empty organisation, so a row that somehow lacked one is nobody's);
PostgreSQL drops the default again.

Revision ID: fun0003
Revises: fun0002
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fun0003"
down_revision: str | None = "fun0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("organisation", "pools_edited_by")


def _owner() -> str:
    from services.funding.settings import Settings

    return Settings().programme_owner_organisation


def upgrade() -> None:
    for name in OWNED:
        op.add_column("programmes", sa.Column(name, sa.String(length=200), nullable=False,
                                              server_default=""))
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM programmes")).scalar_one():
        conn.execute(sa.text("UPDATE programmes SET organisation = :owner, "
                             "pools_edited_by = created_by"), {"owner": _owner()})
    if conn.dialect.name != "sqlite":
        for name in OWNED:
            op.alter_column("programmes", name, server_default=None)
    op.create_index(op.f("ix_programmes_organisation"), "programmes", ["organisation"],
                    unique=False)
    op.add_column("scenarios", sa.Column("approval_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("scenarios", "approval_json")
    op.drop_index(op.f("ix_programmes_organisation"), table_name="programmes")
    for name in reversed(OWNED):
        op.drop_column("programmes", name)
