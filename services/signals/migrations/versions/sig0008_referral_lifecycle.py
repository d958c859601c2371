"""referral life cycle: accepted, handed back, withdrawn, outcome note and follow-up date

A referral gets a `status` (sent, accepted, completed, handed-back, withdrawn), the time and
actor of its acceptance and hand-back, the coded reason of a hand-back or withdrawal, and,
with its outcome, an encrypted note and a follow-up date. A history entry
(`status_changes`) may now record a referral step (`referral_id`, `referral_step`,
`referral_reason`). Existing referrals get the status their columns already say: completed
when they have an outcome, else withdrawn when withdrawn, else sent.

Revision ID: sig0008_referral_lifecycle
Revises: sig0007
Create Date: 2026-12-04 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "sig0008_referral_lifecycle"
down_revision: str | None = "sig0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False,
                                      server_default="sent"))
        batch_op.add_column(sa.Column("accepted_at", shared.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("accepted_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("outcome_note_ciphertext", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("handed_back_at", shared.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("handed_back_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=40), nullable=True))
    op.execute("UPDATE referrals SET status = 'completed' WHERE outcome IS NOT NULL")
    op.execute("UPDATE referrals SET status = 'withdrawn' "
               "WHERE outcome IS NULL AND withdrawn_at IS NOT NULL")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_id", shared.db.UUIDString(length=36),
                                      nullable=True))
        batch_op.add_column(sa.Column("referral_step", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("referral_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_column("referral_reason")
        batch_op.drop_column("referral_step")
        batch_op.drop_column("referral_id")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        for column in ("end_reason", "handed_back_by", "handed_back_at", "follow_up_date",
                       "outcome_note_ciphertext", "accepted_by", "accepted_at", "status"):
            batch_op.drop_column(column)
