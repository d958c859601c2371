"""encrypt status-change reasons: free text about a person, stored like the note

A coordinator's reason ("mevrouw belde terug, haar zoon is opgenomen") was stored in plain
text. It moves to `reason_ciphertext`, encrypted under the active field key and bound to its
signal and version, as the service now writes it (`services.signals.casework.views`).

Encrypting needs the service's field keys, so this revision reads the signals settings (the
same environment the service runs with) -- only when there is a reason to encrypt: a new
database needs no keys. Downgrade decrypts them back.

Revision ID: sig0004
Revises: sig0003
Create Date: 2026-11-29 11:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sig0004"
down_revision: str | None = "sig0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cipher():  # type: ignore[no-untyped-def]
    from services.signals.crypto.keys import build_crypto
    from services.signals.settings import Settings

    return build_crypto(Settings()).cipher


def _field(version: int) -> str:
    return f"reason-v{version}"  # the associated data as of this revision


def _convert(source: str, target: str, change) -> None:  # type: ignore[no-untyped-def]
    """Set `target` from `source` on every status change that has one, through `change`."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        f"SELECT id, signal_id, version, {source} FROM status_changes "
        f"WHERE {source} IS NOT NULL")).all()
    if rows:
        cipher = _cipher()
        for row_id, signal_id, version, value in rows:
            conn.execute(
                sa.text(f"UPDATE status_changes SET {target} = :value WHERE id = :id"),
                {"id": row_id, "value": change(cipher)(value, record_id=str(signal_id),
                                                       field=_field(version))})


def upgrade() -> None:
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_ciphertext", sa.Text(), nullable=True))
    _convert("reason", "reason_ciphertext", lambda cipher: cipher.encrypt)
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_column("reason")


def downgrade() -> None:
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    _convert("reason_ciphertext", "reason", lambda cipher: cipher.decrypt)
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_column("reason_ciphertext")
