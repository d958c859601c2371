"""need to know: consent per purpose, withdrawn referrals, erasure and purge records

`consent_records` holds each consent, withdrawal and objection per purpose with its time and
actor; a referral can be withdrawn (its consent withdrawn: the partner's access ends at once);
`erasure_records` says who erased or purged which signals, when and why. Consent given at
intake (`signals.consent_recorded_at`) and the intake objection (`tenant_objected`) stay where
they are: the service reads them as the per-purpose records they stand for, so nothing needs
converting.

Revision ID: sig0006
Revises: sig0005
Create Date: 2026-12-03 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "sig0006"
down_revision: str | None = "sig0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "consent_records",
        _id(),
        sa.Column("signal_id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("given_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_organisation", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_consent_records_signal_id_signals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_records_signal_id"), ["signal_id"], unique=False)
    op.create_table(
        "erasure_records",
        _id(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("signal_ids", sa.Text(), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_records")),
    )
    with op.batch_alter_table("erasure_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_records_organisation"), ["organisation"], unique=False)
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", shared.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("erasure_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_records_organisation"))
    op.drop_table("erasure_records")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_signal_id"))
    op.drop_table("consent_records")
