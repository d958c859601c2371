"""access log hmac: a keyed chain over every field, with a sequence and an outcome

The access log was an unkeyed SHA-256 chain that left `controller` out: anyone who could
write the database could rewrite the controller, or delete entries and recompute the chain.
Each entry gains `sequence` (its place in the chain, from 1) and `outcome` (`granted`; later
also `refused`), and the chain is recomputed as an HMAC under the access log key from the
signals settings (the same environment the service runs with), over every field. Only when
there are entries: a new database needs no key. `access_log_verified` records where
verification may resume. Downgrade recomputes the SHA-256 chain (refused attempts then look
like reads of no fields).

Revision ID: sig0005
Revises: sig0004
Create Date: 2026-12-03 23:10:00.000000
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "sig0005"
down_revision: str | None = "sig0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
PAGE = 1000
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = ("id", "subject", "organisation", "role", "purpose", "record_type", "record_id",
            "fields", "at", "controller")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _utc(value: datetime | str) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entry(row: Any) -> dict[str, Any]:
    return {"subject": row.subject, "organisation": row.organisation, "role": row.role,
            "purpose": row.purpose, "recordType": row.record_type, "recordId": row.record_id,
            "fields": sorted(set(json.loads(row.fields))), "at": _utc(row.at)}


def _rows() -> Iterator[Any]:
    """The log in id order, a page at a time (a long log does not fit in memory)."""
    conn, after = op.get_bind(), 0
    while True:
        page = conn.execute(sa.text(
            f"SELECT {', '.join(_COLUMNS)} FROM access_log WHERE id > :after "
            "ORDER BY id LIMIT :n"), {"after": after, "n": PAGE}).all()
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


def _rechain(link: Callable[[str, int, Any], str], *, numbered: bool) -> None:
    # Each page is fetched whole before its rows are updated, and keyed on the unchanged id.
    conn = op.get_bind()
    prev, sequence = GENESIS_HASH, 0
    for row in _rows():
        sequence += 1
        entry_hash = link(prev, sequence, row)
        values = {"id": row.id, "p": prev, "e": entry_hash, "s": sequence}
        conn.execute(sa.text(
            "UPDATE access_log SET prev_hash = :p, entry_hash = :e"
            + (", sequence = :s" if numbered else "") + " WHERE id = :id"), values)
        prev = entry_hash
    if sequence:
        conn.execute(sa.text("UPDATE access_log_head SET head = :h"
                             + (", sequence = :s" if numbered else "")),
                     {"h": prev, "s": sequence})


def _key() -> bytes:
    from services.signals.crypto.keys import build_crypto
    from services.signals.settings import Settings

    return build_crypto(Settings()).access_log_key


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", BigId, nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=10), nullable=False,
                                      server_default="granted"))
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", BigId, nullable=False, server_default="0"))
    if op.get_bind().execute(sa.text("SELECT 1 FROM access_log LIMIT 1")).first():
        from services.signals.accesslog.chain import chain_hash

        key = _key()

        def keyed(prev: str, sequence: int, row: Any) -> str:
            entry = {**_entry(row), "sequence": sequence, "controller": row.controller,
                     "outcome": "granted"}
            return chain_hash(key, prev, entry)

        _rechain(keyed, numbered=True)
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=BigId, nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_access_log_sequence"), ["sequence"])
    op.create_table(
        "access_log_verified",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", BigId, nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("verified_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_verified")),
    )


def downgrade() -> None:
    op.drop_table("access_log_verified")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_access_log_sequence"), type_="unique")

    def unkeyed(prev: str, sequence: int, row: Any) -> str:
        return hashlib.sha256(prev.encode("ascii") + _canonical(_entry(row))).hexdigest()

    _rechain(unkeyed, numbered=False)
    with op.batch_alter_table("access_log_head", schema=None) as batch_op:
        batch_op.drop_column("sequence")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("sequence")
