"""Key material: rotation keeps old ciphertexts readable; the periodic purge runs in the app."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest

from services.signals.crypto.keys import build_crypto
from services.signals.crypto.material import KeyMaterialError, generate_key, parse_key
from services.signals.models import Signal
from services.signals.settings import Settings
from services.signals.tests.conftest import NOTE, TEST_KEYS, create, db, move
from shared.db import utcnow
from tests.apps import runtime_of


async def test_rotation_keeps_old_ciphertexts_readable(signals_service, auth, database_url):
    url = database_url("signals-rotation")
    fw = auth("field-worker")
    async with signals_service(database_url=url, field_active_key_id="old") as client:
        s = await create(client, fw)
        async with db(client) as session:
            row = await session.get(Signal, uuid.UUID(s["id"]))
            assert row.note_ciphertext.startswith("v1.old.")
            assert NOTE not in row.note_ciphertext
    async with signals_service(database_url=url, field_active_key_id="new") as client:
        read = (await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                                 headers=fw)).json()
        assert read["personalData"]["note"] == NOTE
        s2 = await create(client, fw)
        async with db(client) as session:
            row = await session.get(Signal, uuid.UUID(s2["id"]))
            assert row.note_ciphertext.startswith("v1.new.")


async def test_ciphertexts_are_bound_to_their_record(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        a, b = await create(client, fw), await create(client, fw, note="een andere notitie")
        async with db(client) as session:
            row_a = await session.get(Signal, uuid.UUID(a["id"]))
            row_b = await session.get(Signal, uuid.UUID(b["id"]))
            row_b.note_ciphertext = row_a.note_ciphertext  # copied across records
        r = await client.get(f"/v1/signals/{b['id']}", params={"purpose": "case-handling"},
                             headers=fw)
        assert r.status_code == 500 and NOTE not in r.text


async def test_the_app_purges_periodically(signals_service, auth):
    async with signals_service(purge_interval_s=0.05) as client:
        s = await create(client, auth("field-worker"))
        assert (await move(client, s["id"], auth("coordinator"), "closed-no-action",
                           outcome="no-contact")).status_code == 201
        async with db(client) as session:
            (await session.get(Signal, uuid.UUID(s["id"]))).closed_at = (
                utcnow() - timedelta(days=1000))
        for _ in range(100):
            await asyncio.sleep(0.05)
            async with db(client) as session:
                if (await session.get(Signal, uuid.UUID(s["id"]))).personal_data_removed_at:
                    break
        else:
            raise AssertionError("the periodic purge did not run")
        assert runtime_of(client).settings.purge_interval_s == 0.05
    assert TEST_KEYS["purge_interval_s"] == 0


async def test_housekeeping_tasks_run_only_with_an_interval(signals_service):
    async with signals_service() as client:  # both intervals 0: off
        rt = runtime_of(client)
        assert not rt.purge.running and not rt.checkpoints.running
    async with signals_service(purge_interval_s=3600,
                               access_log_checkpoint_interval_s=3600) as client:
        rt = runtime_of(client)
        assert rt.purge.running and rt.checkpoints.running
        # Each waits one interval first: housekeeping need not run at every start-up.
        assert rt.purge.first_delay and rt.checkpoints.first_delay
    assert not rt.purge.running and not rt.checkpoints.running


def test_the_access_log_key_comes_from_settings_or_the_dev_file(tmp_path):
    old = {k: v for k, v in TEST_KEYS.items()
           if k not in ("access_log_key", "access_log_checkpoint_interval_s",
                        "purge_interval_s")}
    dev_file = tmp_path / "signals-keys.json"
    dev_file.write_text(json.dumps({**old, "field_keyring": "dev1:" + generate_key(),
                                    "field_active_key_id": "dev1"}))
    before = json.loads(dev_file.read_text())
    # A dev key file from before the keyed log gains a key, once; the others stay.
    first = build_crypto(Settings(dev_keys_file=str(dev_file)))
    again = build_crypto(Settings(dev_keys_file=str(dev_file)))
    assert first.access_log_key == again.access_log_key and len(first.access_log_key) == 32
    after = json.loads(dev_file.read_text())
    assert {k: after[k] for k in before} == before
    assert parse_key(after["access_log_key"]) == first.access_log_key
    # Production: configured keys without the access log key do not start.
    with pytest.raises(KeyMaterialError, match="access log key"):
        build_crypto(Settings(**old, dev_keys_file=str(dev_file)))
    key = generate_key()
    assert build_crypto(Settings(**old, access_log_key=key)).access_log_key == parse_key(key)
