"""Processes killed with SIGKILL mid-stream: nothing lost, nothing applied twice, order kept."""

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from services.indicators.models import SignalFact
from shared.tests.conftest import read_topic, running
from shared.tests.testapp import Applied
from tests.apps import runtime_of
from tests.helpers import eventually
from tools.broker import embedded_broker, free_port
from tools.migrate import upgrade

KEYS = 10
# As few as keep the fault window real: every run asserts (mid_stream below) that at least
# three kills landed while posts were still being answered and that kills left events in the
# outbox unpublished, so a smaller volume cannot quietly turn this into a test without faults.
PER_KEY = 100  # 1,000 signals through the real services
NOTES_PER_KEY = 30  # the shared mechanism, killed more often, on the test app


class Server:
    """The test service (relay on, consumer off) as a real process we can SIGKILL."""

    def __init__(self, env, database, app="shared.tests.benchapp:app"):
        self.env = env
        self.database = database
        self.app = app
        self.port = free_port()
        self.proc = None
        self.kills = 0
        self.acked = 0  # posts answered 200/201 so far
        #: per kill: (posts answered before it, outbox rows it left unpublished)
        self.at_kill: list[tuple[int, int]] = []

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", self.app,
             "--port", str(self.port), "--log-level", "error"],
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        with contextlib.closing(sqlite3.connect(self.database, timeout=10)) as db:
            (backlog,) = db.execute(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()
        self.at_kill.append((self.acked, backlog))

    def assert_killed_mid_stream(self, total):
        """The fault window was real: kills came while posts were still being answered, and
        some left events in the outbox that the next relay had to publish."""
        mid_stream = [(acked, backlog) for acked, backlog in self.at_kill
                      if 0 < acked < total]
        assert len(mid_stream) >= 3, self.at_kill
        assert any(backlog for _, backlog in self.at_kill), self.at_kill


async def kill_now_and_then(client, server, done, pause=(0.1, 0.6), posts=(20, 60)):
    """SIGKILL the server a random `pause` after each time it is up again, or once a random
    number of `posts` more were answered if that comes first, until `done`.

    The count keeps kills spread over the stream however fast the machine is: on time alone,
    a fast machine got through the posts with two kills.
    """
    rng = random.Random(7)
    while not done.is_set():
        while not done.is_set():  # let it come up (and its relay run) first
            try:
                await client.get(f"http://127.0.0.1:{server.port}/livez")
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        deadline = asyncio.get_running_loop().time() + rng.uniform(*pause)
        target = server.acked + rng.randint(*posts)
        while (not done.is_set() and server.acked < target  # noqa: ASYNC110 (a counter)
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(0.01)
        if done.is_set():
            break
        server.kill()
        server.start()


async def test_relay_killed_at_random_points(testsvc_settings, broker, auth, tmp_path):
    consumer_settings = testsvc_settings(relay_enabled=False)
    server = Server({
        "DDK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'producer.db'}",
        "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "DDK_TOPIC": consumer_settings.topic, "DDK_CONSUMER_ENABLED": "false",
        "DDK_AUTH_PUBLIC_KEY_FILE": consumer_settings.auth_public_key_file,
        "DDK_RATE_LIMIT_PER_SECOND": "0", "DDK_RELAY_POLL_INTERVAL_S": "0.02",
        "DDK_LOG_LEVEL": "ERROR"}, tmp_path / "producer.db")
    server.start()
    headers = auth("field-worker")
    done = asyncio.Event()

    async def post_key(client, k):
        area = f"BU036300{k:02d}"
        for seq in range(NOTES_PER_KEY):
            # counts from 1000 up: the test app's handler refuses 13 and 666 on purpose
            body = {"id": str(uuid.uuid4()), "area": area, "count": 1000 + seq, "label": "k"}
            while True:  # a field app retries the same id until it gets an answer
                try:
                    r = await client.post(f"http://127.0.0.1:{server.port}/v1/notes",
                                          json=body, headers=headers)
                    if r.status_code in (200, 201):
                        server.acked += 1
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)

    async with running(consumer_settings) as consumer:
        rt = runtime_of(consumer)
        async with httpx.AsyncClient(timeout=5) as client:
            kill_task = asyncio.create_task(kill_now_and_then(client, server, done))
            await asyncio.gather(*(post_key(client, k) for k in range(KEYS)))
            done.set()
            await kill_task

        async def all_applied():
            async with rt.sessions() as s:
                n = await s.scalar(select(func.count()).select_from(Applied))
            return n >= KEYS * NOTES_PER_KEY or None

        try:
            await eventually(all_applied, timeout_s=120)
            await asyncio.sleep(2)
            async with rt.sessions() as s:
                rows = await s.scalar(select(func.count()).select_from(Applied))
                distinct = await s.scalar(select(func.count(func.distinct(Applied.note_id))))
            assert rows == distinct == KEYS * NOTES_PER_KEY  # each effect exactly once
            server.assert_killed_mid_stream(KEYS * NOTES_PER_KEY)

            messages = await read_topic(broker.bootstrap_servers, consumer_settings.topic,
                                        KEYS * NOTES_PER_KEY)
            first_seen: dict[bytes, list[int]] = defaultdict(list)
            seen = set()
            for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
                note = orjson.loads(m.value)
                if note["noteId"] not in seen:
                    seen.add(note["noteId"])
                    first_seen[m.key].append(note["count"] - 1000)
            assert len(seen) == KEYS * NOTES_PER_KEY  # none lost on the topic
            for sequence in first_seen.values():
                assert sequence == list(range(NOTES_PER_KEY))  # order per key kept
        finally:
            server.kill()


SIGNAL_AREAS = [f"BU0599K0{k:02d}" for k in range(KEYS)]


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)  # the broker path is tested
async def test_signals_relay_killed_while_1000_signals_are_posted(indicators, auth, tmp_path,
                                                                  key_dir):
    """The same, with the real services: signals (killed) publishes, indicators counts.

    Each area's signals are posted one after another with observedAt one second apart, so the
    order the topic must keep per key (the area) can be read back from the events.
    """
    base = datetime.now(UTC) - timedelta(days=1)
    with embedded_broker() as own_broker:
        url = f"sqlite+aiosqlite:///{tmp_path / 'signals.db'}"
        upgrade("signals", url)
        server = Server({
            "DDK_SIGNALS_DATABASE_URL": url,
            "DDK_KAFKA_BOOTSTRAP_SERVERS": own_broker.bootstrap_servers,
            "DDK_AUTH_PUBLIC_KEY_FILE": str(key_dir / "issuer-public.pem"),
            "DDK_RATE_LIMIT_PER_SECOND": "0", "DDK_RELAY_POLL_INTERVAL_S": "0.02",
            "DDK_LOG_LEVEL": "ERROR"}, tmp_path / "signals.db", app="services.signals.app:app")
        group = f"indicators.kill.{uuid.uuid4().hex[:8]}"
        async with indicators(consumer_enabled=True, signals_consumer_group=group,
                              kafka_bootstrap_servers=own_broker.bootstrap_servers) as svc:
            server.start()
            headers = auth("field-worker")
            done = asyncio.Event()

            async def post_area(client, area):
                for seq in range(PER_KEY):
                    body = {"id": str(uuid.uuid4()), "category": "nuisance",
                            "severity": "low", "areaCode": area, "unitRef": f"u{seq}",
                            "observedAt": (base + timedelta(seconds=seq)).isoformat()}
                    while True:  # the field app retries the same id until it gets an answer
                        try:
                            r = await client.post(
                                f"http://127.0.0.1:{server.port}/v1/signals", json=body,
                                headers=headers)
                            if r.status_code in (200, 201):
                                server.acked += 1
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.05)

            async with httpx.AsyncClient(timeout=5) as client:
                # Longer pauses than above: the real service takes a while to start again.
                kill_task = asyncio.create_task(
                    kill_now_and_then(client, server, done, pause=(0.5, 2.0), posts=(60, 200)))
                await asyncio.gather(*(post_area(client, a) for a in SIGNAL_AREAS))
                done.set()
                await kill_task

            async def all_counted():
                async with svc.runtime.sessions() as s:
                    n = await s.scalar(select(func.count()).select_from(SignalFact).where(
                        SignalFact.area_code.in_(SIGNAL_AREAS)))
                return n >= KEYS * PER_KEY or None

            try:
                await eventually(all_counted, timeout_s=120)
                await asyncio.sleep(2)
                for area in SIGNAL_AREAS:  # the API agrees: each signal counted once
                    r = await svc.client.get(f"/v1/areas/{area}/signal-counts",
                                             headers=auth("admin"))
                    assert r.json()["signals"] == PER_KEY, area
                server.assert_killed_mid_stream(KEYS * PER_KEY)
                messages = await read_topic(own_broker.bootstrap_servers, "signals.v1",
                                            KEYS * PER_KEY)
                firsts: dict[bytes, list[str]] = defaultdict(list)
                seen = set()
                for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
                    data = orjson.loads(m.value)
                    if "observedAt" in data and data["signalId"] not in seen:
                        seen.add(data["signalId"])
                        firsts[m.key].append(data["observedAt"])
                assert len(seen) == KEYS * PER_KEY  # none lost on the topic
                for observed in firsts.values():
                    assert observed == sorted(observed)  # order per key kept
            finally:
                server.kill()
