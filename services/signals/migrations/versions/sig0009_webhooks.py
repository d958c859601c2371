"""webhooks: partner push subscriptions, their own outbox, deliveries and the delivery log

`webhook_subscriptions` holds an organisation's push targets (target URL, event types, format,
the signing secret encrypted, and during a rotation's overlap the previous one).
`webhook_events` is the webhooks' outbox, written in the transaction of the change it tells
of; the dispatcher fans each out into `webhook_deliveries` (one per subscription, with its
retry state and lease), and every attempt goes to `webhook_attempts` (the delivery log).

Revision ID: sig0009_webhooks
Revises: sig0008_sync
Create Date: 2026-12-04 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "sig0009_webhooks"
down_revision: str | None = "sig0008_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNFANNED = sa.text("fanned_out_at IS NULL")


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, shared.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("target_url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=30), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("previous_secret_ciphertext", sa.Text(), nullable=True),
        _at("previous_secret_until"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _at("created_at", nullable=False),
        _at("secret_rotated_at"),
        _at("deleted_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(op.f("ix_webhook_subscriptions_organisation"), "webhook_subscriptions",
                    ["organisation"], unique=False)
    op.create_table(
        "webhook_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("ordering_key", sa.String(length=36), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _at("created_at", nullable=False),
        _at("fanned_out_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_index("ix_webhook_events_unfanned", "webhook_events", ["id"], unique=False,
                    sqlite_where=UNFANNED, postgresql_where=UNFANNED)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("subscription_id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("event_seq", BigId, nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("ordering_key", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at", nullable=False),
        _at("window_started_at", nullable=False),
        _at("leased_until"),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        _at("created_at", nullable=False),
        _at("delivered_at"),
        _at("dead_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_webhook_deliveries_chain", "webhook_deliveries",
                    ["subscription_id", "ordering_key", "event_seq"], unique=False)
    op.create_index("ix_webhook_deliveries_log", "webhook_deliveries",
                    ["subscription_id", "event_seq"], unique=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delivery_id", shared.db.UUIDString(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _at("at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts",
                    ["delivery_id"], unique=False)


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_subscriptions")
