"""Data migrations of the signals service, on a database as an older revision left it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, inspect, select, text, update

from services.signals.accesslog.chain import verify_chain
from services.signals.accesslog.repository import to_entry
from services.signals.casework.views import reason_field
from services.signals.crypto.keys import build_crypto
from services.signals.intake.new_signal import new_signal
from services.signals.intake.repository import SIGNALS
from services.signals.intake.schemas import parse_signal
from services.signals.models import AccessLogRow, Outbox, Signal, StatusChange
from services.signals.settings import Settings
from services.signals.tests.conftest import signal_body
from shared.auth import Principal, Role
from shared.contracts.signals import SIGNAL_ERASED_V1, SIGNAL_RECORDED, SignalErasedV1
from shared.db import create_engine, sessionmaker, utcnow
from shared.outbox import outbox_row
from tools.migrate import downgrade, upgrade

#: Columns of a new signal that later revisions added (sig0008_sync), absent before them.
LATER_COLUMNS = {"clock_correction_seconds"}


def older(row: dict[str, Any]) -> dict[str, Any]:
    """A new signal's row as the older revisions under test know it (inserted with Core:
    the ORM would name every column of today's model)."""
    return {k: v for k, v in row.items() if k not in LATER_COLUMNS}


FIELD_WORKER = Principal("fw-1", "demo-corp-a", frozenset({Role.FIELD_WORKER}))


async def _seed(url: str, key_dir: Path) -> tuple[str, str, str]:
    """Two signals as sig0002 knew them: one erased (with a v1 erasure event), one not."""
    crypto = build_crypto(Settings(dev_keys_file=str(key_dir / "signals-keys.json")))
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            drafts = []
            for house in (1, 2):
                body, problems = parse_signal(signal_body(houseNumber=house))
                assert body is not None, problems
                drafts.append(new_signal(body, FIELD_WORKER, crypto, "urn:test", None))
            for d in drafts:
                await session.execute(insert(SIGNALS).values(older(d.signal)))
                session.add_all(Outbox(**e) for e in d.events)
            erased, kept = (d.signal for d in drafts)
            session.add(Outbox(**outbox_row(
                SIGNAL_ERASED_V1, SignalErasedV1(
                    signal_id=erased["id"], area_code=erased["area_code"],
                    household_stats_pseudonym=erased["household_stats_pseudonym"],
                    erased_at=utcnow()),
                key=erased["area_code"], source="urn:test", subject=str(erased["id"]))))
        async with sessionmaker(engine)() as session, session.begin():
            await session.execute(update(Signal).where(Signal.id == erased["id"]).values(
                erased_at=utcnow(), household_stats_pseudonym=None))
        return (str(erased["id"]), erased["household_stats_pseudonym"],
                kept["household_stats_pseudonym"])
    finally:
        await engine.dispose()


async def _outbox(url: str) -> list[Outbox]:
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            return list(await session.scalars(select(Outbox).order_by(Outbox.id)))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0003_unlinks_households_erased_before_it(database_url, tmp_path):
    url = database_url("signals")
    upgrade("signals", url, "sig0002")
    erased_id, household, neighbour = asyncio.run(_seed(url, tmp_path))

    upgrade("signals", url, "sig0003")

    rows = asyncio.run(_outbox(url))
    assert not [r.type for r in rows if household in r.data]
    data = {(r.type, r.subject): orjson.loads(r.data) for r in rows}
    unlinked = data[SIGNAL_RECORDED.type, erased_id]["householdStatsPseudonym"]
    assert len(unlinked) == len(household) and unlinked != household
    SignalErasedV1.model_validate(data[SIGNAL_ERASED_V1.type, erased_id])  # still readable
    kept = [d for (t, s), d in data.items() if t == SIGNAL_RECORDED.type and s != erased_id]
    assert [d["householdStatsPseudonym"] for d in kept] == [neighbour]


REASON = "mevrouw belde terug: haar zoon is opgenomen"


async def _seed_reasons(url: str, key_dir: Path) -> str:
    """A signal whose history, as sig0003 stored it, holds a reason in plain text."""
    crypto = build_crypto(Settings(dev_keys_file=str(key_dir / "signals-keys.json")))
    engine = create_engine(url)
    try:
        body, problems = parse_signal(signal_body())
        assert body is not None, problems
        d = new_signal(body, FIELD_WORKER, crypto, "urn:test", None)
        async with sessionmaker(engine)() as session, session.begin():
            await session.execute(insert(SIGNALS).values(older(d.signal)))
        async with engine.begin() as conn:
            for version, to_status, reason in ((1, "new", None), (2, "triaged", REASON)):
                await conn.execute(text(
                    "INSERT INTO status_changes (signal_id, version, from_status, to_status, "
                    "reason, changed_by, changed_by_organisation, changed_at) VALUES (:s, :v, "
                    "NULL, :t, :r, 'fw-1', 'demo-corp-a', '2026-11-01 10:00:00.000000')"),
                    {"s": str(body.id), "v": version, "t": to_status, "r": reason})
        return str(body.id)
    finally:
        await engine.dispose()


async def _history(url: str, key_dir: Path) -> list[tuple[str, str | None, bool]]:
    cipher = build_crypto(Settings(dev_keys_file=str(key_dir / "signals-keys.json"))).cipher
    engine = create_engine(url)
    try:
        # The columns this revision has (the model has more since): no ORM entity here.
        async with sessionmaker(engine)() as session:
            rows = (await session.execute(select(
                StatusChange.signal_id, StatusChange.version, StatusChange.to_status,
                StatusChange.reason_ciphertext).order_by(StatusChange.version))).all()
            return [(r.to_status, r.reason_ciphertext and cipher.decrypt(
                r.reason_ciphertext, record_id=str(r.signal_id), field=reason_field(r.version)),
                REASON in (r.reason_ciphertext or "")) for r in rows]
    finally:
        await engine.dispose()


async def _plain_reasons(url: str) -> list[str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.scalars(
                text("SELECT reason FROM status_changes ORDER BY version"))).all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0004_encrypts_the_reasons_stored_before_it_and_downgrade_restores_them(
        database_url, tmp_path, monkeypatch):
    # The migration encrypts with the service's keys, found through its settings.
    monkeypatch.setenv("DDK_SIGNALS_DEV_KEYS_FILE", str(tmp_path / "signals-keys.json"))
    url = database_url("signals")
    upgrade("signals", url, "sig0003")
    asyncio.run(_seed_reasons(url, tmp_path))

    upgrade("signals", url, "sig0004")

    # Readable with the key, bound to its signal and version; no plain text left.
    assert asyncio.run(_history(url, tmp_path)) == [
        ("new", None, False), ("triaged", REASON, False)]

    downgrade("signals", url, "sig0003")
    assert asyncio.run(_plain_reasons(url)) == [None, REASON]


def _sha256_chain(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(prev_hash, entry_hash) of each entry as the unkeyed chain before sig0005 made them."""
    links, prev = [], "0" * 64
    for e in entries:
        entry_hash = hashlib.sha256(prev.encode() + json.dumps(
            e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        links.append((prev, entry_hash))
        prev = entry_hash
    return links


OLD_ENTRIES = [
    {"subject": f"fw-{i}", "organisation": "demo-corp-a", "role": "field-worker",
     "purpose": "case-handling", "recordType": "signal", "recordId": f"sig-{i}",
     "fields": ["address", "note"], "at": f"2026-11-01T10:0{i}:00.000000Z"}
    for i in range(3)
]


async def _seed_access_log(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for e, (prev, entry_hash) in zip(OLD_ENTRIES, _sha256_chain(OLD_ENTRIES),
                                             strict=True):
                at = str(e["at"]).replace("T", " ").rstrip("Z")
                await conn.execute(text(
                    "INSERT INTO access_log (subject, organisation, role, purpose, record_type, "
                    "record_id, fields, at, controller, prev_hash, entry_hash) VALUES (:s, :o, "
                    f":r, :p, :rt, :ri, :f, '{at}', 'demo-corp-a', :prev, :e)"),
                    {"s": e["subject"], "o": e["organisation"], "r": e["role"],
                     "p": e["purpose"], "rt": e["recordType"], "ri": e["recordId"],
                     "f": json.dumps(e["fields"]), "prev": prev, "e": entry_hash})
            await conn.execute(text("INSERT INTO access_log_head (id, head) VALUES (1, :h)"),
                               {"h": _sha256_chain(OLD_ENTRIES)[-1][1]})
    finally:
        await engine.dispose()


async def _access_log(url: str) -> tuple[list[AccessLogRow], list[tuple[str, ...]]]:
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            rows = list(await session.scalars(select(AccessLogRow).order_by(AccessLogRow.id)))
            head = [tuple(r) for r in (await session.execute(text(
                "SELECT * FROM access_log_head"))).all()]
            return rows, head
    finally:
        await engine.dispose()


async def _old_links(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [(r.prev_hash, r.entry_hash) for r in (await conn.execute(text(
                "SELECT prev_hash, entry_hash FROM access_log ORDER BY id"))).all()]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0005_rechains_the_access_log_under_the_key_and_downgrade_restores_it(
        database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DDK_SIGNALS_DEV_KEYS_FILE", str(tmp_path / "signals-keys.json"))
    url = database_url("signals")
    upgrade("signals", url, "sig0004")
    asyncio.run(_seed_access_log(url))

    upgrade("signals", url, "sig0005")

    key = build_crypto(Settings(dev_keys_file=str(tmp_path / "signals-keys.json"))).access_log_key
    rows, head = asyncio.run(_access_log(url))
    assert [(r.sequence, r.outcome, r.controller) for r in rows] == [
        (1, "granted", "demo-corp-a"), (2, "granted", "demo-corp-a"),
        (3, "granted", "demo-corp-a")]
    result = verify_chain([to_entry(r) for r in rows], key=key)
    assert result.ok and result.checked == 3
    assert head == [(1, rows[-1].entry_hash, 3)]
    # The controller is inside the keyed hash now; before, it was not.
    forged = rows[1].entry_hash
    assert not verify_chain([to_entry(r) for r in rows[:1]] + [
        to_entry(rows[1]).model_copy(update={"controller": "demo-corp-b"})], key=key).ok
    assert forged not in {h for _, h in _sha256_chain(OLD_ENTRIES)}

    downgrade("signals", url, "sig0004")
    assert asyncio.run(_old_links(url)) == _sha256_chain(OLD_ENTRIES)


async def _seed_idempotency_key(url: str, key_dir: Path, key: str) -> None:
    """A signal and its Idempotency-Key as sig0004 stored it: the key as the client sent it."""
    crypto = build_crypto(Settings(dev_keys_file=str(key_dir / "signals-keys.json")))
    engine = create_engine(url)
    try:
        body, problems = parse_signal(signal_body())
        assert body is not None, problems
        d = new_signal(body, FIELD_WORKER, crypto, "urn:test", None)
        async with sessionmaker(engine)() as session, session.begin():
            await session.execute(insert(SIGNALS).values(older(d.signal)))
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO idempotency_keys (organisation, key, signal_id, request_hash, "
                "created_at) VALUES ('demo-corp-a', :k, :s, :h, '2026-11-01 10:00:00.000000')"),
                {"k": key, "s": str(body.id), "h": d.signal["request_hash"]})
    finally:
        await engine.dispose()


async def _stored_keys(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.scalars(text("SELECT key FROM idempotency_keys"))).all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0007_hashes_the_idempotency_keys_stored_before_it(database_url, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv("DDK_SIGNALS_DEV_KEYS_FILE", str(tmp_path / "signals-keys.json"))
    url = database_url("signals")
    upgrade("signals", url, "sig0004")
    key = "retry-Kerkstraat-12"
    asyncio.run(_seed_idempotency_key(url, tmp_path, key))

    upgrade("signals", url, "sig0007")

    crypto = build_crypto(Settings(dev_keys_file=str(tmp_path / "signals-keys.json")))
    assert asyncio.run(_stored_keys(url)) == [crypto.idempotency_key_hash(key)]
    downgrade("signals", url, "sig0004")
    assert asyncio.run(_stored_keys(url)) == []  # not to be hashed twice by the next upgrade
    upgrade("signals", url, "sig0007")


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _referral_columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {c["name"] for c in await conn.run_sync(
                lambda c: inspect(c).get_columns("referrals"))}
    finally:
        await engine.dispose()


async def _seed_consent(url: str, signal_id: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO consent_records (signal_id, purpose, kind, given_at, recorded_by, "
                "recorded_by_organisation, recorded_at) VALUES (:s, 'wijkteam-support', "
                "'consent', '2026-11-01 10:00:00.000000', 'c-1', 'demo-corp-a', "
                "'2026-11-01 10:00:00.000000')"), {"s": signal_id})
            await conn.execute(text(
                "INSERT INTO erasure_records (kind, organisation, actor, actor_role, reason, "
                "signal_ids, at) VALUES ('purge', 'demo-corp-a', 'retention-purge', 'system', "
                "'open-past-max-age', :ids, '2026-11-01 10:00:00.000000')"),
                {"ids": f'["{signal_id}"]'})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0006_adds_consents_erasure_records_and_withdrawals_and_downgrades(
        database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DDK_SIGNALS_DEV_KEYS_FILE", str(tmp_path / "signals-keys.json"))
    url = database_url("signals")
    upgrade("signals", url, "sig0003")
    signal_id = asyncio.run(_seed_reasons(url, tmp_path))  # survives both ways
    upgrade("signals", url, "sig0006")
    assert {"consent_records", "erasure_records"} <= asyncio.run(_tables(url))
    asyncio.run(_seed_consent(url, signal_id))
    assert {"withdrawn_at", "withdrawn_by"} <= asyncio.run(_referral_columns(url))
    downgrade("signals", url, "sig0004")
    assert not {"consent_records", "erasure_records"} & asyncio.run(_tables(url))
    assert not {"withdrawn_at", "withdrawn_by"} & asyncio.run(_referral_columns(url))
    upgrade("signals", url, "sig0006")
    assert len(asyncio.run(_history(url, tmp_path))) == 2
