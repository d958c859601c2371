"""`make run`: the whole platform on one machine (embedded broker, SQLite, demo data).

Starts Tansu, creates the topics, migrates each service's database under var/, loads the
demo data, starts the three services with uvicorn, and stays in the foreground. Ctrl-C stops
the services first, then the broker: nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType
from typing import NoReturn

from shared.childprocess import dies_with_parent
from shared.db import engine_for, sessionmaker
from shared.kafka import ensure_topics
from shared.settings import VAR, ServiceSettings
from tools.broker import EmbeddedBroker, wait_for_port
from tools.devtoken import ensure_key_pair
from tools.migrate import upgrade
from tools.registry import FRONTENDS, SERVICES, Frontend, Service, all_topics


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


async def load_demo(service: Service, settings: ServiceSettings) -> None:
    """The service's demo data, if the registry names a loader for it."""
    loader = service.demo()
    if loader is None:
        return
    engine = engine_for(settings)
    try:
        await loader(sessionmaker(engine), settings)
    finally:
        await engine.dispose()


def wait_ready(url: str, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


#: What the dev configuration changes from production's defaults (the environment wins):
#: webhooks may go to a receiver on this machine.
DEV_CONFIGURATION = {"DDK_SIGNALS_WEBHOOK_ALLOW_LOOPBACK": "true"}
#: Signals that stop `make run` (the terminal's Ctrl-C is SIGINT, raised as KeyboardInterrupt).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: A stop signal this soon after the first is the same stop (make passes the signal its group
#: got on to its child, which got it too), not a second request to hurry.
SAME_STOP_S = 0.5


def main() -> int:
    started = time.monotonic()
    VAR.mkdir(exist_ok=True)
    ensure_key_pair()
    platform = ServiceSettings()
    host, _, port = platform.kafka_bootstrap_servers.partition(":")
    broker = EmbeddedBroker(int(port or 9092), log_file=VAR / "broker.log")
    with contextlib.suppress(TimeoutError):
        wait_for_port(host, broker.port, timeout_s=0.2)
        say(f"something already listens on {host}:{broker.port}; stop it or set "
            "DDK_KAFKA_BOOTSTRAP_SERVERS to another port")
        return 1
    processes: list[subprocess.Popen[bytes]] = []
    # The console's dev sign-in mints tokens with the same key as `make token`.
    os.environ.setdefault("DDK_CONSOLE_DEV_SIGNIN_KEY_FILE",
                          str(VAR / "keys" / "issuer-private.pem"))

    first_stop_at = [0.0]

    def hurry(_signum: int, _frame: FrameType | None) -> None:
        if time.monotonic() - first_stop_at[0] < SAME_STOP_S:
            return
        say("stopping harder: killing the services")
        for p in processes:
            if p.poll() is None:
                p.kill()

    def interrupt(_signum: int, _frame: FrameType | None) -> NoReturn:
        # From the first stop signal on, another one hurries the stop instead of cutting it
        # short (whatever happens, the broker is stopped last). Set here, not when the stop
        # begins: a second signal can come before that (make passes its group's on).
        first_stop_at[0] = time.monotonic()
        for signum in STOP_SIGNALS:
            signal.signal(signum, hurry)
        raise KeyboardInterrupt

    for signum in STOP_SIGNALS:
        signal.signal(signum, interrupt)

    def stop() -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, hurry)
        say("stopping the services, then the broker")
        try:
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        finally:
            broker.stop()
        say("stopped")

    try:
        broker.start()
        say(f"embedded broker (Tansu) on {broker.bootstrap_servers}, log in var/broker.log")
        asyncio.run(ensure_topics(platform, all_topics()))
        for service in SERVICES:
            settings = service.settings()
            upgrade(service.name)
            asyncio.run(load_demo(service, settings))
            say(f"{service.name}: database migrated and demo data loaded "
                f"({settings.sqlalchemy_url()})")
        for service in SERVICES:  # the console calls the services where they listen
            os.environ.setdefault(f"DDK_CONSOLE_{service.name.upper()}_URL",
                                  service.settings().base_url())
        deployables: list[Service | Frontend] = [*SERVICES, *FRONTENDS]
        for deployable in deployables:
            settings = deployable.settings()
            processes.append(subprocess.Popen([
                sys.executable, "-m", "uvicorn", "--factory", deployable.asgi_factory,
                "--host", settings.host, "--port", str(settings.port), "--no-access-log",
                "--log-level", "warning",
            ], env={**DEV_CONFIGURATION, **os.environ},
                # Own process group, like the broker's: Ctrl-C reaches only this supervisor,
                # which stops the services first and the broker last (not all at once).
                # Killed outright, the supervisor takes them along.
                process_group=0, preexec_fn=dies_with_parent(signal.SIGTERM)))
        for service in SERVICES:
            settings = service.settings()
            ok = wait_ready(settings.base_url())
            state = "ready" if ok else "NOT READY"
            say(f"{service.name:<10} {state}  {settings.base_url()}/v1/docs")
        for frontend in FRONTENDS:
            settings = frontend.settings()
            state = "ready" if wait_ready(settings.base_url()) else "NOT READY"
            say(f"{frontend.name:<10} {state}  {settings.base_url()}/  <- open this")
        consoles = " ".join(f"{f.settings().base_url()}/" for f in FRONTENDS)
        say(f"all started in {time.monotonic() - started:.1f}s. Open the console at "
            f"{consoles} (sign in with any role); an API token: "
            "`make token ROLE=field-worker ORG=demo-corp-a`. Ctrl-C stops everything.")
        while True:
            for p in processes:
                if p.poll() is not None:
                    say(f"a service exited with code {p.returncode}; stopping")
                    return 1
            if broker.process and broker.process.poll() is not None:
                say("the broker died; restarting it (it starts empty: the services "
                    "re-create topics and re-publish from their outboxes)")
                broker.start()
                asyncio.run(ensure_topics(platform, all_topics()))
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    raise SystemExit(main())
