"""Webhook delivery to a real receiver process (tests/webhook_receiver.py, uvicorn), which
verifies every request with the `standardwebhooks` library: signatures, thin bodies, order per
referral, retries, dead letters and replay, a rotated secret, a slow target that holds up
nobody else, and nothing lost when the signals service restarts mid-delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from services.signals.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from services.signals.runtime import SignalsRuntime
from services.signals.tests.conftest import NOTE, POSTCODE, create, db, move
from services.signals.webhooks import repository
from shared.db import utcnow
from tests.apps import runtime_of
from tests.helpers import eventually
from tests.webhook_receiver import Receiver

MUNICIPALITY = "demo-municipality"
PURPOSE = "woonoverlast-aanpak"
ALL_REFERRAL_EVENTS = ["referral.created", "referral.accepted", "referral.outcome-recorded",
                       "referral.handed-back", "referral.withdrawn", "referral.erased"]
#: Fast retries, so a test sees several attempts in a second or two.
FAST = {"webhook_allow_loopback": True, "webhook_retry_base_s": 0.05,
        "webhook_retry_max_s": 0.3, "webhook_poll_interval_s": 0.2}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    with Receiver(tmp_path / "received.jsonl") as r:
        yield r


async def _subscribe(client, auth, receiver: Receiver, path: str = "/hooks/a",
                     org: str = MUNICIPALITY, events=None, fmt: str = "standard-webhooks"):
    r = await client.post("/v1/webhook-subscriptions", headers=auth("admin", org), json={
        "targetUrl": receiver.url(path), "eventTypes": events or ALL_REFERRAL_EVENTS,
        "format": fmt})
    assert r.status_code == 201, r.text
    receiver.secrets.append(r.json()["secret"])
    receiver.control(secrets=receiver.secrets)
    return r.json()


async def _refer(client, auth) -> tuple[str, str]:
    s = await create(client, auth("field-worker"))
    assert (await move(client, s["id"], auth("coordinator"), "triaged")).status_code == 201
    r = await client.post(f"/v1/signals/{s['id']}/referrals", headers=auth("coordinator"),
                          json={"partnerOrganisation": MUNICIPALITY, "purpose": PURPOSE})
    assert r.status_code == 201, r.text
    return s["id"], r.json()["id"]


def _partner(auth):
    return auth("partner", MUNICIPALITY, sub="partner-system-1", team="municipality")


async def _arrived(receiver: Receiver, count: int, path: str | None = None, timeout_s=15.0):
    async def probe():
        got = receiver.accepted(path)
        return got if len(got) >= count else None
    return await eventually(probe, timeout_s=timeout_s, interval_s=0.02)


async def _deliveries(client, auth, sub_id: str, org: str = MUNICIPALITY, **params):
    r = await client.get(f"/v1/webhook-subscriptions/{sub_id}/deliveries",
                         headers=auth("admin", org), params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_referral_reaches_the_partner_signed_thin_and_within_milliseconds(
        signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        sub = await _subscribe(client, auth, receiver)
        own = await _subscribe(client, auth, receiver, "/hooks/reporter", org="demo-corp-a",
                               events=["signal.status-changed", "referral.created"])
        started = time.time()
        signal_id, referral_id = await _refer(client, auth)
        [got] = await _arrived(receiver, 1, "/hooks/a")
        assert got["at"] - started < 2.0
        assert got["verified"] == [0]  # the partner's secret, verified by standardwebhooks
        assert got["body"] == {"type": "referral.created", "timestamp": got["body"]["timestamp"],
                               "data": {"referralId": referral_id,
                                        "resourceUrl": f"http://127.0.0.1:8001/v1/referrals/"
                                                       f"{referral_id}"}}
        assert signal_id not in str(got["body"])  # the partner's API withholds it too
        raw = Path(receiver.log).read_text()
        assert NOTE not in raw and POSTCODE not in raw and "unit-" not in raw
        # The reporter's own integration: two status changes (triaged, referred) and the
        # referral at the path it reads it (in order per signal, and per referral).
        mine = await _arrived(receiver, 3, "/hooks/reporter")
        assert sorted(m["body"]["type"] for m in mine) == [
            "referral.created", "signal.status-changed", "signal.status-changed"]
        [made] = [m for m in mine if m["body"]["type"] == "referral.created"]
        assert made["body"]["data"]["resourceUrl"].endswith(
            f"/v1/signals/{signal_id}/referrals/{referral_id}")
        assert {m["verified"][0] for m in mine} == {1}

        async def recorded():
            items = await _deliveries(client, auth, sub["id"])
            return items if items[0]["status"] == "delivered" else None
        [log] = await eventually(recorded, timeout_s=5, interval_s=0.02)
        assert log["id"] == got["id"]
        assert log["attemptLog"][0]["statusCode"] == 204
        assert log["attemptLog"][0]["latencyMs"] > 0
        assert (await _deliveries(client, auth, own["id"], org="demo-corp-a"))[0]["eventType"] \
            == "referral.created"
        # Another organisation's admin cannot read this log.
        r = await client.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries",
                             headers=auth("admin", "demo-ggz"))
        assert r.status_code == 404


async def test_order_per_referral_holds_through_failures_and_duplicates_share_an_id(
        signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        await _subscribe(client, auth, receiver)
        receiver.control(path="/hooks/a", status=500)
        _, referral_id = await _refer(client, auth)
        partner = _partner(auth)
        assert (await client.post(f"/v1/referrals/{referral_id}/acceptance",
                                  headers=partner)).status_code == 200
        r = await client.post(f"/v1/referrals/{referral_id}/outcome", headers=partner,
                              json={"outcome": "help-accepted"})
        assert r.status_code == 200, r.text

        async def failed_twice():
            return len(receiver.received("/hooks/a")) >= 2 or None
        await eventually(failed_twice, timeout_s=10, interval_s=0.02)
        # Only the first is tried while it fails: the later steps wait their turn.
        assert {e["body"]["type"] for e in receiver.received("/hooks/a")} == {"referral.created"}
        first_ids = {e["id"] for e in receiver.received("/hooks/a")}
        assert len(first_ids) == 1  # every retry carries the same webhook-id
        receiver.control(path="/hooks/a", status=204)
        got = await _arrived(receiver, 3)
        assert [g["body"]["type"] for g in got] == [
            "referral.created", "referral.accepted", "referral.outcome-recorded"]
        assert got[0]["id"] in first_ids


async def test_a_receiver_down_then_back_gets_everything(signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        sub = await _subscribe(client, auth, receiver)
        receiver.stop()
        await _refer(client, auth)

        async def tried_thrice():
            items = await _deliveries(client, auth, sub["id"])
            return items if items and items[0]["attempts"] >= 3 else None
        [item] = await eventually(tried_thrice, timeout_s=10, interval_s=0.05)
        assert item["status"] == "pending" and item["lastError"] == "ConnectError"
        receiver.start()
        [got] = await _arrived(receiver, 1)
        assert got["id"] == item["id"]


async def test_dead_after_the_window_then_replayed_with_the_same_id(
        signals_service, auth, receiver):
    async with signals_service(**{**FAST, "webhook_retry_window_s": 0.6}) as client:
        sub = await _subscribe(client, auth, receiver)
        receiver.control(path="/hooks/a", status=500)
        await _refer(client, auth)

        async def dead():
            items = await _deliveries(client, auth, sub["id"], status="dead")
            return items or None
        [item] = await eventually(dead, timeout_s=10, interval_s=0.05)
        assert item["attempts"] >= 2 and item["lastStatusCode"] == 500
        assert [a["statusCode"] for a in item["attemptLog"]] == [500] * item["attempts"]
        receiver.control(path="/hooks/a", status=200)
        url = f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{item['id']}/replay"
        r = await client.post(url, headers=auth("admin", MUNICIPALITY))
        assert r.status_code == 202, r.text
        [got] = await _arrived(receiver, 1)
        assert got["id"] == item["id"]
        again = await client.post(url, headers=auth("admin", MUNICIPALITY))
        assert again.status_code == 409  # delivered now: nothing to replay


async def test_a_slow_target_times_out_and_holds_up_no_other_subscriber(
        signals_service, auth, receiver):
    async with signals_service(**{**FAST, "webhook_timeout_s": 0.5}) as client:
        slow = await _subscribe(client, auth, receiver, "/hooks/slow")
        await _subscribe(client, auth, receiver, "/hooks/fast")
        receiver.control(path="/hooks/slow", delaySeconds=5)
        started = time.time()
        for _ in range(3):
            await _refer(client, auth)
        fast = await _arrived(receiver, 3, "/hooks/fast")
        assert max(f["at"] for f in fast) - started < 3.0

        async def timed_out():
            items = await _deliveries(client, auth, slow["id"])
            return [i for i in items if i["lastError"] == "timeout"] or None
        await eventually(timed_out, timeout_s=10, interval_s=0.05)
        receiver.control(path="/hooks/slow", delaySeconds=0)

        async def all_delivered():
            items = await _deliveries(client, auth, slow["id"])
            return items if {i["status"] for i in items} == {"delivered"} else None
        items = await eventually(all_delivered, timeout_s=15, interval_s=0.05)
        # The receiver saw the timed-out requests too: duplicates, with the same ids.
        ids = [e["id"] for e in receiver.received("/hooks/slow")]
        assert len(ids) > len(set(ids)) and {i["id"] for i in items} == set(ids)


async def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap(
        signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        sub = await _subscribe(client, auth, receiver)
        url = f"/v1/webhook-subscriptions/{sub['id']}/secret-rotation"
        r = await client.post(url, json={"overlapSeconds": 600},
                              headers=auth("admin", MUNICIPALITY))
        assert r.status_code == 200, r.text
        receiver.secrets.append(r.json()["secret"])
        receiver.control(secrets=receiver.secrets)
        await _refer(client, auth)
        [got] = await _arrived(receiver, 1)
        assert got["signatures"] == 2 and got["verified"] == [0, 1]  # old and new both verify
        r = await client.post(url, json={"overlapSeconds": 0},
                              headers=auth("admin", MUNICIPALITY))
        receiver.secrets.append(r.json()["secret"])
        receiver.control(secrets=receiver.secrets)
        await _refer(client, auth)
        got = await _arrived(receiver, 2)
        assert got[1]["signatures"] == 1 and got[1]["verified"] == [2]  # only the newest


async def test_the_household_erasure_reaches_the_partner(signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        await _subscribe(client, auth, receiver, events=["referral.erased"])
        _, referral_id = await _refer(client, auth)
        r = await client.post("/v1/data-subject-erasures", headers=auth("privacy-officer"),
                              json={"postcode": POSTCODE, "houseNumber": 17, "houseLetter": "b"})
        assert r.status_code == 200 and r.json()["erased"] == 1, r.text
        [got] = await _arrived(receiver, 1)
        assert got["body"]["type"] == "referral.erased"
        assert got["body"]["data"]["referralId"] == referral_id


async def test_zgw_format_is_a_notificaties_api_notification(signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        await _subscribe(client, auth, receiver, fmt="zgw")
        signal_id, referral_id = await _refer(client, auth)
        [got] = await _arrived(receiver, 1)
        url = f"http://127.0.0.1:8001/v1/referrals/{referral_id}"
        assert got["body"] == {
            "kanaal": "verwijzingen", "hoofdObject": url, "resource": "verwijzing",
            "resourceUrl": url, "actie": "create", "aanmaakdatum": got["body"]["aanmaakdatum"],
            "kenmerken": {"gebeurtenis": "referral.created", "referralId": referral_id}}
        assert signal_id not in str(got["body"])
        assert got["verified"] == [0]


async def test_nothing_is_lost_when_the_service_restarts_mid_delivery(
        signals_service, auth, receiver, database_url):
    url = database_url("signals")
    settings = {**FAST, "webhook_lease_s": 1.0, "database_url": url}
    receiver.control(path="/hooks/a", delaySeconds=30)
    async with signals_service(**settings) as client:
        await _subscribe(client, auth, receiver)
        await _refer(client, auth)

        async def in_flight():
            return receiver.received("/hooks/a") or None
        [first] = await eventually(in_flight, timeout_s=10, interval_s=0.02)
    # The service stopped while the receiver held the request: no answer was recorded.
    receiver.control(path="/hooks/a", delaySeconds=0)
    async with signals_service(**settings) as client:
        [got] = await _arrived(receiver, 1)
        assert got["id"] == first["id"]  # the same webhook-id: the receiver drops the copy
        async with db(client) as session:
            assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
async def test_two_dispatchers_claim_each_delivery_once(signals_service, auth, receiver,
                                                         database_kind, database_url):
    """Two replicas on one PostgreSQL database (claims with FOR UPDATE SKIP LOCKED and a
    lease) send each delivery once, in order per referral. (Two SQLite apps cannot share one
    event loop: each waits for the other's write lock on it; SQLite runs one writer.)"""
    url = database_url("signals")
    settings = {**FAST, "database_url": url}
    async with signals_service(**settings) as one, signals_service(**settings) as two:
        await _subscribe(one, auth, receiver)
        referrals = [await _refer(one if i % 2 else two, auth) for i in range(10)]
        partner = _partner(auth)
        for i, (_, rid) in enumerate(referrals):
            client = two if i % 2 else one
            assert (await client.post(f"/v1/referrals/{rid}/acceptance",
                                      headers=partner)).status_code == 200
        got = await _arrived(receiver, 20, timeout_s=20)
        await asyncio.sleep(0.5)
        received = receiver.received()
        assert len(received) == len({e["id"] for e in received}) == 20  # none twice
        for _, rid in referrals:
            steps = [e["body"]["type"] for e in got if e["body"]["data"]["referralId"] == rid]
            assert steps == ["referral.created", "referral.accepted"]
        for client in (one, two):
            assert isinstance(runtime_of(client), SignalsRuntime)


async def test_the_log_is_pruned_after_its_retention_but_pending_work_stays(
        signals_service, auth, receiver):
    async with signals_service(**FAST) as client:
        sub = await _subscribe(client, auth, receiver)
        await _refer(client, auth)
        await _arrived(receiver, 1)

        async def recorded():
            items = await _deliveries(client, auth, sub["id"])
            return items if items[0]["status"] == "delivered" else None
        await eventually(recorded, timeout_s=5, interval_s=0.02)
        receiver.stop()  # the next one stays pending
        await _refer(client, auth)

        async def failing():
            items = await _deliveries(client, auth, sub["id"])
            return items if len(items) == 2 and items[0]["attempts"] >= 1 else None
        await eventually(failing, timeout_s=5, interval_s=0.02)
        long_ago = utcnow() - timedelta(days=31)
        async with db(client) as session:
            await session.execute(update(WebhookDelivery).values(created_at=long_ago))
            await session.execute(update(WebhookEvent).values(fanned_out_at=long_ago))
        async with db(client) as session:
            removed = await repository.prune(session, utcnow() - timedelta(days=30))
        assert removed == 1
        async with db(client) as session:
            left = (await session.scalars(select(WebhookDelivery))).all()
            assert [d.status for d in left] == ["pending"]
            # The delivered one's attempts went with it; the pending one's stay.
            assert set(await session.scalars(select(WebhookAttempt.delivery_id))) \
                == {left[0].id}
            # Only the pending delivery's event is kept (the rest were for nobody or done).
            assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
