"""Nothing outlives a run: the broker dies with its parent; `make run` stops it on any signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.settings import ROOT
from tests.processes import alive, children, gone_within, interruptible, kill_if_alive
from tools.broker import PORTS_FROM, free_port
from tools.devstack import SAME_STOP_S

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; PDEATHSIG")

START_A_BROKER_AND_WAIT = """
import time
from tools.broker import EmbeddedBroker, free_port
broker = EmbeddedBroker(free_port()).start()
print(broker.process.pid, flush=True)
time.sleep(120)
"""


def test_a_broker_dies_when_the_process_that_started_it_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", START_A_BROKER_AND_WAIT], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    try:
        assert alive(broker_pid)
        parent.kill()
        parent.wait()
        assert gone_within(broker_pid, 5.0), "the broker outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()
        kill_if_alive(broker_pid)


def read_until(process: subprocess.Popen[str], marker: str, timeout_s: float) -> list[str]:
    """Lines `make run` printed up to and including the one containing `marker`."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no line with {marker!r} within {timeout_s}s; got:\n{''.join(lines)}")


def dev_stack_environment(tmp_path: Path, kafka_port: int) -> dict[str, str]:
    env = {**os.environ, "DDK_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}"}
    for service in ("SIGNALS", "INDICATORS", "FUNDING"):
        env[f"DDK_{service}_PORT"] = str(free_port())
        env[f"DDK_{service}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / service}.db"
    env["DDK_CONSOLE_PORT"] = str(free_port())
    return env


@pytest.mark.parametrize(("first", "second", "to_group", "at_once"), [
    (signal.SIGINT, signal.SIGINT, False, False),  # Ctrl-C, and Ctrl-C again while it stops
    (signal.SIGINT, signal.SIGTERM, True, False),  # Ctrl-C, then a SIGTERM to the group
    # Two stop signals at once (make passes a SIGTERM to its group on to its child; a
    # terminal closing): the second came before the stop was under way and cut it short,
    # and then killed the services. It is the same stop: the services are asked to stop.
    (signal.SIGTERM, signal.SIGHUP, False, True),
], ids=["ctrl-c-twice", "sigterm-to-group-while-stopping", "sigterm-twice-at-once"])
def test_make_run_stops_the_broker_and_services_despite_a_second_signal(
        tmp_path, first, second, to_group, at_once):
    kafka_port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "-m", "tools.devstack"], cwd=ROOT, text=True,
        env=dev_stack_environment(tmp_path, kafka_port),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=interruptible)
    started: dict[int, str] = {}
    try:
        said = read_until(stack, "all started", timeout_s=180)
        started = children(stack.pid)
        brokers = [pid for pid, cmd in started.items() if f"127.0.0.1:{kafka_port}" in cmd]
        services = [pid for pid, cmd in started.items() if "uvicorn" in cmd]
        assert len(brokers) == 1 and len(services) == 4, (  # three APIs, the console
            started, "".join(said))

        os.kill(stack.pid, first)
        if not at_once:
            read_until(stack, "stopping the services", timeout_s=10)
            time.sleep(SAME_STOP_S)  # a request of its own, not the same stop passed on
        if to_group:
            os.killpg(stack.pid, second)
        else:
            os.kill(stack.pid, second)
        rest, _ = stack.communicate(timeout=30)

        assert gone_within(brokers[0], 5.0), f"the broker is left running:\n{rest}"
        assert not [pid for pid in services if alive(pid)], f"a service is left running:\n{rest}"
        assert "stopped" in rest and stack.returncode == 0, (stack.returncode, rest)
        if at_once:
            assert "stopping harder" not in rest, rest
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for pid in started:
            kill_if_alive(pid)


def test_a_free_port_lies_below_the_range_connections_take_their_ports_from():
    """Else a connection made between choosing a service's port and its listening there
    may take it (the tests run two at a time, each making thousands)."""
    below = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if below - PORTS_FROM < 1000:
        pytest.skip(f"the kernel's range starts at {below}: no room below it")
    ports = [free_port() for _ in range(20)]
    assert all(PORTS_FROM <= port < below for port in ports), (below, ports)


def test_each_test_worker_draws_its_ports_from_a_share_of_its_own(monkeypatch):
    below = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    if below - PORTS_FROM < 2000:
        pytest.skip(f"the kernel's range starts at {below}: no room below it")
    half = PORTS_FROM + (below - PORTS_FROM) // 2
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    for worker, inside in (("gw0", range(PORTS_FROM, half)), ("gw1", range(half, below))):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        ports = [free_port() for _ in range(20)]
        assert all(port in inside for port in ports), (worker, ports)

