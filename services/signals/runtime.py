"""The signals runtime: the shared one plus key material and the retention task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from services.signals.accesslog import checkpoints
from services.signals.accesslog import repository as access_log
from services.signals.crypto import Crypto, build_crypto
from services.signals.intake.writer import GroupWriter
from services.signals.settings import Settings
from shared.contracts.signals import AccessLogCheckpointed
from shared.runtime import Runtime, runtime_of
from shared.tracing import worker_span

log = logging.getLogger(__name__)


@dataclass
class SignalsRuntime(Runtime):
    crypto: Crypto = field(init=False)
    intake: GroupWriter = field(init=False)
    _purge_task: asyncio.Task[None] | None = field(init=False, default=None)
    _checkpoint_task: asyncio.Task[None] | None = field(init=False, default=None)
    _checkpointed: int = field(init=False, default=0)

    async def start(self) -> None:
        assert isinstance(self.settings, Settings)
        self.crypto = build_crypto(self.settings)
        await super().start()
        self.intake = GroupWriter(self.engine, self.notify_relay)
        if self.settings.purge_interval_s > 0:
            self._purge_task = asyncio.create_task(self._purge_periodically())
        if self.settings.access_log_checkpoint_interval_s > 0:
            self._checkpoint_task = asyncio.create_task(self._checkpoint_periodically())

    async def checkpoint_access_log(self) -> AccessLogCheckpointed | None:
        """Publish the access log's head if it moved since this process last did."""
        assert isinstance(self.settings, Settings)
        if self._topic_task:  # the topic is created in the background at start
            await asyncio.shield(self._topic_task)
        async with self.sessions() as session:
            head = await access_log.head(session)
            if head.sequence == 0 or head.sequence == self._checkpointed:
                return None
            # A checkpoint only moves forward: a head that does not extend the last one (a cut
            # tail, a rewritten chain) must never become the new truth verification trusts.
            last = await checkpoints.latest(self.settings)
            if last is not None:
                at = checkpoints.position(last)
                kept = await access_log.entry_at(session, at.sequence)
                if head.sequence < at.sequence or kept is None or kept.entry_hash != at.head:
                    log.error("access log does not extend its last checkpoint; not checkpointed",
                              extra={"checkpointSequence": at.sequence,
                                     "headSequence": head.sequence})
                    return None
        published = await checkpoints.publish(self.producer, self.settings, head)
        self._checkpointed = head.sequence
        return published

    async def _checkpoint_periodically(self) -> None:
        assert isinstance(self.settings, Settings)
        while True:
            await asyncio.sleep(self.settings.access_log_checkpoint_interval_s)
            try:
                await self.checkpoint_access_log()
            except Exception as exc:  # broker away: the next interval takes the then head
                log.warning("access log checkpoint failed", extra={"error": repr(exc)})

    async def _purge_periodically(self) -> None:
        from services.signals.purge import purge_expired

        assert isinstance(self.settings, Settings)
        while True:
            await asyncio.sleep(self.settings.purge_interval_s)
            try:
                # Hourly by default: a span for every round, with or without work.
                with worker_span(self.tracer, "purge expired personal data"):
                    async with self.sessions() as session, session.begin():
                        count = await purge_expired(session)
                if count:
                    log.info("retention purge", extra={"signals": count})
            except Exception as exc:  # a failed purge is retried at the next interval
                log.warning("retention purge failed", extra={"error": repr(exc)})

    async def stop(self) -> None:
        for task in (self._purge_task, self._checkpoint_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.intake.stop()
        await super().stop()


def signals_runtime(request: Request) -> SignalsRuntime:
    rt = runtime_of(request)
    assert isinstance(rt, SignalsRuntime)
    return rt


async def crypto(request: Request) -> Crypto:
    return signals_runtime(request).crypto


async def settings(request: Request) -> Settings:
    s = signals_runtime(request).settings
    assert isinstance(s, Settings)
    return s


CryptoDep = Annotated[Crypto, Depends(crypto)]
SettingsDep = Annotated[Settings, Depends(settings)]
