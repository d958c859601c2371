"""The signals service killed with SIGKILL while a partner's receiver holds its webhook:
after the restart the delivery goes out again with the same `webhook-id`, nothing lost."""

import os
import signal
import subprocess
import sys

import httpx
import pytest

from services.signals.tests.conftest import TEST_KEYS, signal_body
from tests.helpers import eventually
from tests.processes import kill_if_alive
from tests.webhook_receiver import Receiver
from tools.broker import free_port
from tools.migrate import upgrade

PARTNER = "demo-municipality"


@pytest.fixture
def receiver(tmp_path):
    with Receiver(tmp_path / "received.jsonl") as r:
        yield r


def _signals_process(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "services.signals.app:app",
         "--port", str(port), "--log-level", "error"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _up(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/livez")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_sigkill_mid_delivery_loses_nothing(tmp_path, key_dir, auth, receiver):
    url = f"sqlite+aiosqlite:///{tmp_path / 'signals.db'}"
    upgrade("signals", url)
    env = {f"DDK_SIGNALS_{k.upper()}": str(v) for k, v in TEST_KEYS.items()}
    env.update({
        "DDK_SIGNALS_DATABASE_URL": url, "DDK_SIGNALS_RELAY_ENABLED": "false",
        "DDK_SIGNALS_CONSUMER_ENABLED": "false",
        "DDK_AUTH_PUBLIC_KEY_FILE": str(key_dir / "issuer-public.pem"),
        "DDK_RATE_LIMIT_PER_SECOND": "0", "DDK_LOG_LEVEL": "ERROR",
        "DDK_SIGNALS_WEBHOOK_ALLOW_LOOPBACK": "true", "DDK_SIGNALS_WEBHOOK_LEASE_S": "1",
        "DDK_SIGNALS_WEBHOOK_POLL_INTERVAL_S": "0.2"})
    port = free_port()
    proc = _signals_process(env, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await eventually(lambda: _up(client), timeout_s=30)
            made = await client.post("/v1/webhook-subscriptions", headers=auth("admin", PARTNER),
                                     json={"targetUrl": receiver.url(),
                                           "eventTypes": ["referral.created"]})
            assert made.status_code == 201, made.text
            receiver.control(secrets=[made.json()["secret"]], path="/hooks/a",
                             delaySeconds=30)  # the receiver holds the request
            s = await client.post("/v1/signals", json=signal_body(),
                                  headers=auth("field-worker"))
            assert s.status_code == 201, s.text
            moved = await client.post(f"/v1/signals/{s.json()['id']}/status-changes",
                                      json={"status": "triaged"},
                                      headers={**auth("coordinator"),
                                               "If-Match": s.headers["ETag"]})
            assert moved.status_code == 201, moved.text
            r = await client.post(f"/v1/signals/{s.json()['id']}/referrals",
                                  headers=auth("coordinator"),
                                  json={"partnerOrganisation": PARTNER,
                                        "purpose": "woonoverlast-aanpak"})
            assert r.status_code == 201, r.text

            async def held():
                return receiver.received() or None
            [first] = await eventually(held, timeout_s=10, interval_s=0.02)
            proc.send_signal(signal.SIGKILL)  # mid-delivery: nothing recorded, lease held
            proc.wait()
            receiver.control(path="/hooks/a", delaySeconds=0)
            proc = _signals_process(env, port)
            await eventually(lambda: _up(client), timeout_s=30)

            async def delivered():
                return receiver.accepted() if len(receiver.received()) >= 2 else None
            [got] = await eventually(delivered, timeout_s=20, interval_s=0.05)
            assert got["id"] == first["id"]  # the same webhook-id: the receiver drops one
            assert got["body"]["data"]["referralId"] == r.json()["id"]

            async def recorded():
                items = (await client.get(
                    f"/v1/webhook-subscriptions/{made.json()['id']}/deliveries",
                    headers=auth("admin", PARTNER))).json()["items"]
                return items if items[0]["status"] == "delivered" else None
            [log] = await eventually(recorded, timeout_s=10, interval_s=0.05)
            assert log["id"] == first["id"] and log["attempts"] == 1  # the killed one: none
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kill_if_alive(proc.pid)
