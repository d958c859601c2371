"""The snapshot worker's own process: `python -m services.indicators.snapshots.process`, with
the pseudonym retention clock (`stream/retention.py`).

The service starts it (`WorkerProcess`, with `snapshot_worker = "process"`) with its settings
in the environment, restarts it when it dies, and stops it with SIGTERM. A deployment that runs
it on its own sets `snapshot_worker = "off"` on the API replicas and runs this module instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from services.indicators.settings import Settings
from services.indicators.snapshots.leadership import LEASE_CHECK_S
from services.indicators.snapshots.worker import SnapshotWorker
from services.indicators.stream.retention import retention_clock
from shared.childprocess import dies_with_parent
from shared.db import engine_for, sessionmaker
from shared.fastpath import collect_less_often
from shared.logs import configure_logging
from shared.periodic import PeriodicTask

log = logging.getLogger(__name__)

SETTINGS_ENV = "DDK_INDICATORS_WORKER_SETTINGS"  # the parent's settings, as JSON


def worker_environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, SETTINGS_ENV: settings.model_dump_json()}


async def main() -> None:
    # Taken out of the environment: the protection child (`protector.py`), which inherits
    # it, needs neither the database's address nor the cell-key secret.
    text = os.environ.pop(SETTINGS_ENV, None)
    settings = Settings.model_validate_json(text) if text else Settings()
    configure_logging(settings.service_name + "-snapshots", settings.log_level,
                      settings.log_json)
    # Rounds wait on the database often, and each time take the GIL back from another
    # thread (the protection child's pickling, or a protection itself with
    # `snapshot_protection = "thread"`): within 0.5 ms rather than Python's 5 ms.
    sys.setswitchinterval(0.0005)
    collect_less_often()
    engine = engine_for(settings)
    reads = engine_for(settings, reads_only=True)
    worker = SnapshotWorker(sessionmaker(engine), sessionmaker(reads),
                            source=settings.cloudevents_source(),
                            publish_events=settings.indicator_publisher_enabled,
                            debounce_s=settings.indicator_debounce_s,
                            index_interval_s=settings.snapshot_index_interval_s,
                            republish_interval_s=settings.indicator_republish_interval_s,
                            protect_interval_s=settings.snapshot_protect_interval_s,
                            grace_days=settings.period_grace_days, freeze_held=True,
                            protect_in_process=settings.snapshot_protection != "thread")
    rounds = InlineWorker(worker, settings.snapshot_poll_s)  # the same loop as `inline`
    # The retention clock runs here too: settling a month is seconds of database work
    # nationally, which the API's loop must not wait for.
    clock = retention_clock(settings, sessionmaker(engine))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rounds.start()
    try:
        await stop.wait()
    finally:
        if clock is not None:
            await clock.stop()
        await rounds.stop()
        await worker.close()
        await reads.dispose()
        await engine.dispose()


class InlineWorker(PeriodicTask):
    """The worker's rounds, every `poll_s`, at once again while there is more to do; a failed
    round backs off (its marks stay). In the worker's process, or inline in the service's."""

    name = "snapshot-worker"

    def __init__(self, worker: SnapshotWorker, poll_s: float) -> None:
        super().__init__(interval_s=poll_s, max_backoff_s=5.0)
        self.worker = worker

    async def tick(self) -> float | None:
        if await self.worker.round():
            return 0.0
        return None if self.worker.leading else LEASE_CHECK_S  # a standby

    async def failed(self, exc: Exception) -> None:
        log.warning("snapshot round failed; retrying", extra={"error": repr(exc)})


class WorkerProcess:
    """The worker as the service's child: started, restarted when it dies, stopped."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="snapshot-worker-process")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def _watch(self) -> None:
        delay = 0.5
        while True:
            # Killed with the service, however it ends: a worker left behind would compute
            # on and hold the service's output open. (Its writes are transactions, its
            # marks stay until stored: a kill loses nothing.)
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.indicators.snapshots.process",
                env=worker_environment(self._settings),
                preexec_fn=dies_with_parent(signal.SIGKILL))
            code = await self._process.wait()
            log.warning("snapshot worker ended; starting it again",
                        extra={"exit_code": code})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


if __name__ == "__main__":
    asyncio.run(main())
