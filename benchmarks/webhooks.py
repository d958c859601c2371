"""Webhook delivery latency: a referral's commit -> the partner's receiver, at a steady rate.

The signals service (one uvicorn worker, SQLite, the broker for its other events) and a
receiver process (tests/webhook_receiver.py, verifying every signature with the
`standardwebhooks` library) run on this machine; the partner organisation subscribes to
`referral.created`. Signals are reported and triaged first; then referrals are made at
`rate` per second. Latency is the receiver's arrival time minus the moment the referral
request was sent: an upper bound of commit -> receiver (it includes the request's own
handling), on one clock. Every referral must arrive, verified.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.procs import peak_rss_mb, uvicorn
from benchmarks.report import Row
from benchmarks.scenarios import platform_env, signal_body, token
from tests.webhook_receiver import Receiver

PARTNER = "demo-municipality"
PURPOSE = "woonoverlast-aanpak"
TARGET_P99_MS = 500.0


async def _triaged(client: httpx.AsyncClient, field: dict[str, str], coordinator: dict[str, str],
                   count: int) -> list[str]:
    """`count` signals, reported and triaged, ready to refer."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with gate:
            made = await client.post("/v1/signals", json=signal_body(i), headers=field)
            made.raise_for_status()
            signal_id: str = made.json()["id"]
            moved = await client.post(
                f"/v1/signals/{signal_id}/status-changes", json={"status": "triaged"},
                headers={**coordinator, "If-Match": made.headers["ETag"]})
            moved.raise_for_status()
            return signal_id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def webhook_latency(seconds: float = 10.0, rate: float = 50.0) -> Row:
    with platform_env() as env, tempfile.TemporaryDirectory() as tmp, \
            Receiver(Path(tmp) / "received.jsonl") as receiver, \
            uvicorn("services.signals.app:app",
                    {**env, "DDK_SIGNALS_WEBHOOK_ALLOW_LOOPBACK": "true"},
                    factory=True) as (port, proc):
        field = {"Authorization": f"Bearer {token(env, 'field-worker', 'demo-corp-a')}"}
        coordinator = {"Authorization": f"Bearer {token(env, 'coordinator', 'demo-corp-a')}"}
        admin = {"Authorization": f"Bearer {token(env, 'admin', PARTNER)}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            made = await client.post("/v1/webhook-subscriptions", headers=admin, json={
                "targetUrl": receiver.url(), "eventTypes": ["referral.created"]})
            made.raise_for_status()
            receiver.control(secrets=[made.json()["secret"]])
            count = int(seconds * rate)
            signals = await _triaged(client, field, coordinator, count)
            sent_at: dict[str, float] = {}
            failed = 0
            answered: list[float] = []

            async def refer(signal_id: str) -> None:
                nonlocal failed
                started = time.time()
                r = await client.post(f"/v1/signals/{signal_id}/referrals", headers=coordinator,
                                      json={"partnerOrganisation": PARTNER, "purpose": PURPOSE})
                if r.status_code == 201:
                    sent_at[r.json()["id"]] = started
                    answered.append((time.time() - started) * 1000)
                else:
                    failed += 1

            begin = time.perf_counter()
            tasks = []
            for i, signal_id in enumerate(signals):  # an open-loop schedule: `rate` per second
                await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(refer(signal_id)))
            await asyncio.gather(*tasks)
            deadline = time.monotonic() + 60
            arrived = len(receiver.accepted())
            while arrived < len(sent_at) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                arrived = len(receiver.accepted())
            got = {e["body"]["data"]["referralId"]: e["at"] for e in receiver.accepted()}
        peak = peak_rss_mb(proc.pid)
    latencies = sorted((got[r] - sent_at[r]) * 1000 for r in sent_at if r in got)
    lost = len(sent_at) - len(latencies)
    p50 = statistics.median(latencies) if latencies else None
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None
    ok = p99 is not None and p99 < TARGET_P99_MS and lost == 0 and failed == 0
    return Row(f"webhook delivery, referral -> partner receiver, at {rate:.0f} referrals/s",
               f"{len(latencies) / seconds:.0f} webhooks/s", p50, p99, peak, None,
               f"p99 < {TARGET_P99_MS:.0f} ms, none lost", ok,
               f"{len(sent_at)} referrals, {len(latencies)} verified at the receiver, "
               f"{lost} missing, {failed} refused; request sent -> receiver (the referral "
               f"request's own p50 {statistics.median(answered or [0]):.0f} ms)")
