"""The signals runtime: the shared one plus key material, the intake writer, the two
housekeeping tasks (retention purge, access-log checkpoints) and the webhook dispatcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog.checkpoints import CheckpointTask
from services.signals.crypto.keys import Crypto, build_crypto
from services.signals.intake.writer import GroupWriter
from services.signals.retention.purge import PurgeTask
from services.signals.settings import Settings
from services.signals.webhooks.delivery import WebhookDispatcher
from services.signals.webhooks.events import WROTE
from shared.runtime import Runtime


@dataclass
class SignalsRuntime(Runtime):
    crypto: Crypto = field(init=False)
    intake: GroupWriter = field(init=False)
    purge: PurgeTask = field(init=False)
    checkpoints: CheckpointTask = field(init=False)
    webhooks: WebhookDispatcher = field(init=False)

    async def start(self) -> None:
        assert isinstance(self.settings, Settings)
        self.crypto = build_crypto(self.settings)
        await super().start()
        self.intake = GroupWriter(self.engine, self.notify_relay)
        self.purge = PurgeTask(self.sessions, interval_s=self.settings.purge_interval_s,
                               tracer=self.tracer)
        self.checkpoints = CheckpointTask(self.sessions, self.producer, self.settings,
                                          topics_ready=self._topics_ready, tracer=self.tracer)
        for task in (self.purge, self.checkpoints):
            if task.interval_s > 0:  # an interval of 0 turns the task off
                task.start()
        self.webhooks = WebhookDispatcher(self.sessions, self.settings, self.crypto.cipher,
                                          tracer=self.tracer)
        if self.settings.webhook_enabled:
            self.webhooks.start()

    def committed(self, session: AsyncSession) -> None:
        super().committed(session)
        if session.info.get(WROTE):  # a notification for partners: send it now
            self.webhooks.notify()

    async def _topics_ready(self) -> None:
        if self._topic_task:  # the topics are created in the background at start
            await asyncio.shield(self._topic_task)

    async def stop(self) -> None:
        await self.webhooks.stop()
        await self.purge.stop()
        await self.checkpoints.stop()
        await self.intake.stop()
        await super().stop()
