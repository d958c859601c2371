"""A partner's webhook receiver, run as a real process (uvicorn) by the webhook tests and the
webhook benchmark. It verifies each request with the `standardwebhooks` library (not with
the service's own code) and appends what it saw to a JSON-lines file, so what it received
survives its own restart.

    DDK_RECEIVER_LOG=/tmp/x.jsonl DDK_RECEIVER_SECRETS="whsec_a whsec_b" \\
        python -m uvicorn tests.webhook_receiver:app --port 9999

`POST /_control` with `{"path": "/hooks/a", "status": 500, "delaySeconds": 2}` sets how a path
answers (default 204 at once); `{"secrets": [...]}` replaces the secrets it verifies with.
`Receiver` below starts, stops and reads one from a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tools.broker import free_port

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_behaviour: dict[str, dict[str, Any]] = {}
_secrets: list[str] = os.environ.get("DDK_RECEIVER_SECRETS", "").split()


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes = b"") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["DDK_RECEIVER_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = await _body(receive)
    path = scope["path"]
    if path == "/_control":
        global _secrets
        change = json.loads(body)
        if "secrets" in change:
            _secrets = list(change["secrets"])
        if "path" in change:
            _behaviour[change["path"]] = change
        await _answer(send, 200, b"{}")
        return
    if path == "/_ready":
        await _answer(send, 200, b"{}")
        return
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    verified = []
    for index, secret in enumerate(_secrets):
        try:
            Webhook(secret).verify(body, headers)
            verified.append(index)
        except WebhookVerificationError:
            pass
    behaviour = _behaviour.get(path, {})
    status = int(behaviour.get("status", 204))
    entry = {"path": path, "id": headers.get("webhook-id"), "at": time.time(),
             "timestamp": headers.get("webhook-timestamp"), "host": headers.get("host"),
             "signatures": len(headers.get("webhook-signature", "").split()),
             "verified": verified, "status": status, "body": json.loads(body or b"null")}
    _record(entry)
    await asyncio.sleep(float(behaviour.get("delaySeconds", 0)))
    await _answer(send, status)


class Receiver:
    """A receiver process on a fixed port (so it can go down and come back)."""

    def __init__(self, log: Path, secrets: list[str] | None = None) -> None:
        self.log = log
        self.port = free_port()
        self.secrets = secrets or []
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str = "/hooks/a") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        env = {**os.environ, "DDK_RECEIVER_LOG": str(self.log),
               "DDK_RECEIVER_SECRETS": " ".join(self.secrets)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.webhook_receiver:app", "--host",
             "127.0.0.1", "--port", str(self.port), "--no-access-log", "--log-level", "warning",
             "--timeout-graceful-shutdown", "1"],
            env=env, cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url("/_ready"), timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def control(self, **change: Any) -> None:
        httpx.post(self.url("/_control"), json=change, timeout=5).raise_for_status()

    def received(self, path: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [e for e in entries if path is None or e["path"] == path]

    def accepted(self, path: str | None = None) -> list[dict[str, Any]]:
        """What a receiver would act on: verified, answered 2xx, duplicates dropped."""
        seen: dict[str, dict[str, Any]] = {}
        for entry in self.received(path):
            if entry["verified"] and 200 <= entry["status"] < 300:
                seen.setdefault(entry["id"], entry)
        return list(seen.values())

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
