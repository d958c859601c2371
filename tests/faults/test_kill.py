"""Processes killed with SIGKILL mid-stream: nothing lost, nothing applied twice, order kept."""

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import defaultdict

import httpx
import orjson
from sqlalchemy import func, select

from shared.broker import free_port
from shared.tests.conftest import read_topic, running
from shared.tests.testapp import Applied
from tests.helpers import eventually

KEYS = 10
PER_KEY = 300  # 3,000 notes


class Server:
    """The test service (relay on, consumer off) as a real process we can SIGKILL."""

    def __init__(self, env):
        self.env = env
        self.port = free_port()
        self.proc = None
        self.kills = 0

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "shared.tests.benchapp:app",
             "--port", str(self.port), "--log-level", "error"],
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1


async def test_relay_killed_at_random_points(testsvc_settings, broker, auth, tmp_path):
    consumer_settings = testsvc_settings(relay_enabled=False)
    server = Server({
        "DDK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'producer.db'}",
        "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "DDK_TOPIC": consumer_settings.topic, "DDK_CONSUMER_ENABLED": "false",
        "DDK_AUTH_PUBLIC_KEY_FILE": consumer_settings.auth_public_key_file,
        "DDK_RATE_LIMIT_PER_SECOND": "0", "DDK_RELAY_POLL_INTERVAL_S": "0.02",
        "DDK_LOG_LEVEL": "ERROR"})
    server.start()
    headers = auth("field-worker")
    done = asyncio.Event()

    async def post_key(client, k):
        area = f"BU036300{k:02d}"
        for seq in range(PER_KEY):
            # counts from 1000 up: the test app's handler refuses 13 and 666 on purpose
            body = {"id": str(uuid.uuid4()), "area": area, "count": 1000 + seq, "label": "k"}
            while True:  # a field app retries the same id until it gets an answer
                try:
                    r = await client.post(f"http://127.0.0.1:{server.port}/v1/notes",
                                          json=body, headers=headers)
                    if r.status_code in (200, 201):
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)

    async def killer(client):
        rng = random.Random(7)
        while not done.is_set():
            while not done.is_set():  # let it come up (and its relay run) first
                try:
                    await client.get(f"http://127.0.0.1:{server.port}/livez")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.1, 0.6))
            if done.is_set():
                break
            server.kill()
            server.start()

    async with running(consumer_settings) as consumer:
        rt = consumer._transport.app.state.runtime  # noqa: SLF001
        async with httpx.AsyncClient(timeout=5) as client:
            kill_task = asyncio.create_task(killer(client))
            await asyncio.gather(*(post_key(client, k) for k in range(KEYS)))
            done.set()
            await kill_task

        async def all_applied():
            async with rt.sessions() as s:
                n = await s.scalar(select(func.count()).select_from(Applied))
            return n >= KEYS * PER_KEY or None

        try:
            await eventually(all_applied, timeout_s=120)
            await asyncio.sleep(2)
            async with rt.sessions() as s:
                rows = await s.scalar(select(func.count()).select_from(Applied))
                distinct = await s.scalar(select(func.count(func.distinct(Applied.note_id))))
            assert rows == distinct == KEYS * PER_KEY  # each effect exactly once
            assert server.kills >= 3

            messages = await read_topic(broker.bootstrap_servers, consumer_settings.topic,
                                        KEYS * PER_KEY)
            first_seen: dict[bytes, list[int]] = defaultdict(list)
            seen = set()
            for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
                note = orjson.loads(m.value)
                if note["noteId"] not in seen:
                    seen.add(note["noteId"])
                    first_seen[m.key].append(note["count"] - 1000)
            assert len(seen) == KEYS * PER_KEY  # none lost on the topic
            for sequence in first_seen.values():
                assert sequence == list(range(PER_KEY))  # order per key kept
        finally:
            server.kill()
