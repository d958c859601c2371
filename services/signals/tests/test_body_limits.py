"""Over real HTTP: a body without a token is never read; with one, it is held to its limit on
the bytes actually read.

The service runs as a real uvicorn process: what is measured is its memory, and the socket
behaviour (a refusal while the client is still sending) is uvicorn's.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.procs import rss_mb, uvicorn
from services.signals.tests.conftest import TEST_KEYS
from tools.broker import EmbeddedBroker
from tools.migrate import upgrade

CHUNK = b"x" * 65_536
TOTAL = 600 * 1024 * 1024


def chunks(total: int) -> Iterator[bytes]:
    """A streamed body in HTTP/1.1 chunked framing, never held in memory whole."""
    frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
    for _ in range(total // len(CHUNK)):
        yield frame
    yield b"0\r\n\r\n"


def send_streaming(port: int, path: str, headers: dict[str, str], body: Iterator[bytes],
                   give_up_s: float) -> tuple[bytes, float]:
    """Send `body` until the server answers or closes; (what it answered, seconds taken).

    A client that waits for its upload to finish would only see the answer after 600 MB, so
    after each chunk this one looks whether the server has answered already.
    """
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.encode())
        for frame in body:
            if time.monotonic() - started > give_up_s:
                break
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except OSError:  # closed by the server after its answer
                break
        sock.settimeout(max(0.1, give_up_s - (time.monotonic() - started)))
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65_536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    return answer, time.monotonic() - started


@pytest.fixture
def signals_process(tmp_path: Path, broker: EmbeddedBroker, key_dir: Path
                    ) -> Iterator[tuple[int, int]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'signals.db'}"
    upgrade("signals", url)
    env = {"DDK_SIGNALS_DATABASE_URL": url,
           "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
           "DDK_AUTH_PUBLIC_KEY_FILE": str(key_dir / "issuer-public.pem"),
           "DDK_SIGNALS_RELAY_ENABLED": "false", "DDK_LOG_LEVEL": "WARNING",
           **{f"DDK_SIGNALS_{k.upper()}": str(v) for k, v in TEST_KEYS.items()}}
    with uvicorn("services.signals.app:app", env, factory=True) as (port, proc):
        yield port, proc.pid


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_a_chunked_600_mb_body_without_a_token_is_refused_at_once(signals_process, content_type):
    port, pid = signals_process
    before = rss_mb(pid)
    headers = {"Content-Type": content_type} if content_type else {}
    answer, seconds = send_streaming(port, "/v1/signals/batch", headers, chunks(TOTAL),
                                     give_up_s=10)
    grown = rss_mb(pid) - before
    seen = f"{answer[:12]!r} after {seconds:.2f} s, RSS +{grown:.0f} MB"
    assert answer.startswith(b"HTTP/1.1 401"), seen  # no token: not one chunk read
    assert b"application/problem+json" in answer
    assert seconds < 1.0, seen
    assert grown < 20, seen


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_a_chunked_600_mb_body_with_a_token_is_cut_off_at_the_limit(signals_process, token,
                                                                    content_type):
    port, pid = signals_process
    before = rss_mb(pid)
    headers = {"Authorization": f"Bearer {token('field-worker', 'demo-corp-a')}"}
    if content_type:
        headers["Content-Type"] = content_type
    answer, seconds = send_streaming(port, "/v1/signals/batch", headers, chunks(TOTAL),
                                     give_up_s=10)
    grown = rss_mb(pid) - before
    seen = f"{answer[:12]!r} after {seconds:.2f} s, RSS +{grown:.0f} MB"
    assert answer.startswith(b"HTTP/1.1 413"), seen
    assert b"application/problem+json" in answer
    assert seconds < 2.0, seen
    assert grown < 20, seen
