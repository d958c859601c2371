"""The webhook dispatcher: fans the webhooks' outbox out to subscriptions and delivers.

One loop (a `PeriodicTask`, woken right after a commit that wrote a notification) does, in
one short transaction: record the attempts that ended, fan out new events into deliveries,
claim the deliveries that are due with a lease, and hand each to a task of its own. A task
signs and posts one delivery and wakes the loop; the loop never waits for a target (and
commits once per round, not per delivery), and a subscription has at most
`webhook_concurrency_per_target` requests in flight, so a slow or dead target holds up only
itself. Order holds per subscription and referral: a delivery is claimed only when no
earlier one of its ordering key is still pending (repository.due).

Nothing is lost on a crash or restart: a claimed delivery keeps its lease until the attempt
is recorded; a process that dies leaves it to be claimed again when the lease ends, and the
receiver sees the same `webhook-id` twice (Standard Webhooks receivers drop duplicates).
Failures back off exponentially with jitter for `webhook_retry_window_s` (about a day),
then the delivery is dead until an admin replays it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from opentelemetry.trace import Tracer
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import object_session

from services.signals.crypto.fields import FieldCipher
from services.signals.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.signals.settings import Settings
from services.signals.webhooks import formats, repository, signing, targets
from services.signals.webhooks.schemas import DeliveryStatus, WebhookFormat
from services.signals.webhooks.service import open_secret
from shared.db import utcnow
from shared.periodic import PeriodicTask

log = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = Counter("webhook_attempts_total", "Webhook delivery attempts", ["result"])
WEBHOOK_LATENCY = Histogram(
    "webhook_delivery_latency_seconds", "From the event's commit to the receiver's 2xx",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300, 3600))

FAN_OUT_BATCH = 500
#: Of a receiver's answer only its status counts; more than this of its body is not read.
MAX_ANSWER_BYTES = 64 * 1024
CLAIM_BATCH = 100
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Claim:
    """A delivery this process leased, with what sending it needs."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    lease_token: str
    target_url: str
    fmt: WebhookFormat
    secrets: list[str]
    event: dict[str, Any]
    event_created_at: datetime


@dataclass(frozen=True)
class Outcome:
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """The wait after the `attempt`-th failure: doubling from `base_s` up to `max_s`, with
    "equal jitter" (between half and all of it) so failed deliveries do not retry in step."""
    ceiling = float(min(base_s * 2 ** min(attempt - 1, 62), max_s))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not a secret)


def pinned(target: targets.Target, address: targets.IPAddress) -> tuple[str, dict[str, str],
                                                                        dict[str, Any]]:
    """The URL with the checked address in place of the host (no second DNS lookup), the
    `Host` header and the TLS server name that keep the request about the named host."""
    parts = urlsplit(target.url)
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = f"{host}:{target.port}"
    url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url, {"host": host_header}, extensions


class WebhookDispatcher(PeriodicTask):
    name = "webhook dispatcher"
    span_name = "webhooks.dispatch"
    # After a wake, wait this long for the commits and answers right behind it: one round
    # (one transaction) then covers them all instead of one round each.
    linger_s = 0.05

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 cipher: FieldCipher, tracer: Tracer | None = None) -> None:
        super().__init__(interval_s=settings.webhook_poll_interval_s, max_backoff_s=5.0,
                         tracer=tracer)
        self.sessions = sessions
        self.settings = settings
        self.cipher = cipher
        self.base_url = settings.base_url()
        self._timeout = httpx.Timeout(settings.webhook_timeout_s,
                                      connect=settings.webhook_connect_timeout_s)
        self._deadline_s = settings.webhook_connect_timeout_s + settings.webhook_timeout_s
        # A client per target host: a connection verified for one name never carries a
        # request for another that shares its address.
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._in_flight: defaultdict[uuid.UUID, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()
        # A stop cancels the loop and the deliveries only outside their transactions: a
        # task cancelled while it waits for the (single SQLite) connection can leave the
        # pool waiting for ever. HTTP requests in flight are cancelled; their leases run out.
        self._in_transaction = asyncio.Lock()
        self._posting: set[asyncio.Task[Any]] = set()
        self._ended: list[tuple[Claim, Outcome]] = []  # posted, not yet recorded
        self._next_prune = 0.0  # monotonic time of the next prune (the first round prunes)

    # --- the loop

    async def tick(self) -> float | None:
        """One transaction: record the attempts that ended, fan out, claim; then start the
        claimed deliveries. One commit per round, however many deliveries it covers."""
        ended = list(self._ended)
        async with self._in_transaction, self.sessions() as session, session.begin():
            await self._record(session, ended)
            more_events = await self._fan_out(session)
            claims, more_due = await self._claim(session)
            next_at = await repository.next_retry_at(session, utcnow())
            await self._prune(session)
        del self._ended[:len(ended)]  # recorded (what ended meanwhile waits for the next)
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim), name=f"webhook {claim.delivery_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if more_events or more_due:  # a full batch: go on at once
            return 0.0
        # Attempts that ended during this round woke the loop already: the next round
        # records them after the linger, with whatever else ends or commits meanwhile.
        if next_at is None:
            return self.interval_s
        # Until the next retry falls due, at most the poll interval (a commit wakes us).
        return max(0.0, min(self.interval_s, (next_at - utcnow()).total_seconds()))

    async def _fan_out(self, session: AsyncSession) -> bool:
        """New events become one delivery per subscription of their organisation that wants
        the type and existed when the event happened."""
        await repository.serialise_fan_out(session)
        events = await repository.unfanned(session, FAN_OUT_BATCH)
        if not events:
            return False
        now = utcnow()
        subscriptions = await repository.active_subscriptions(
            session, {e.organisation for e in events})
        wanted = [(s, set(orjson.loads(s.event_types))) for s in subscriptions]
        for event in events:
            for sub, types in wanted:
                if (sub.organisation == event.organisation and event.type in types
                        and sub.created_at <= event.created_at):
                    repository.add(session, WebhookDelivery(
                        id=uuid.uuid4(), subscription_id=sub.id, event_seq=event.id,
                        type=event.type, ordering_key=event.ordering_key,
                        status=DeliveryStatus.PENDING.value, attempts=0,
                        next_attempt_at=now, window_started_at=now,
                        created_at=event.created_at))
        await repository.mark_fanned_out(session, [e.id for e in events], now)
        await session.flush()
        return len(events) == FAN_OUT_BATCH

    async def _claim(self, session: AsyncSession) -> tuple[list[Claim], bool]:
        now = utcnow()
        skip_locked = session.get_bind().dialect.name == "postgresql"
        cap = self.settings.webhook_concurrency_per_target
        busy = {sub for sub, n in self._in_flight.items() if n >= cap}
        due = await repository.due(session, now, CLAIM_BATCH, skip_locked=skip_locked,
                                   except_subscriptions=busy)
        chosen: list[WebhookDelivery] = []
        taking: defaultdict[uuid.UUID, int] = defaultdict(int)
        for row in due:
            if self._in_flight[row.subscription_id] + taking[row.subscription_id] < cap:
                taking[row.subscription_id] += 1
                chosen.append(row)
        # More waiting only when the batch, not a target's limit, stopped this round (a
        # target at its limit is woken by its own deliveries ending).
        more = len(due) == CLAIM_BATCH and len(chosen) == len(due)
        if not chosen:
            return [], False
        token = str(uuid.uuid4())
        await repository.lease(session, [d.id for d in chosen],
                               now + timedelta(seconds=self.settings.webhook_lease_s), token)
        subscriptions = await repository.subscriptions_by_id(
            session, {d.subscription_id for d in chosen})
        events = await repository.events(session, {d.event_seq for d in chosen})
        secrets = {sub.id: self._secrets(sub, now) for sub in subscriptions.values()}
        claims: list[Claim] = []
        for row in chosen:
            sub = subscriptions.get(row.subscription_id)
            event = events.get(row.event_seq)
            if sub is None or event is None:  # deleted meanwhile: cancelled with it
                continue
            self._in_flight[sub.id] += 1
            claims.append(Claim(
                delivery_id=row.id, subscription_id=sub.id, lease_token=token,
                target_url=sub.target_url, fmt=WebhookFormat(sub.format),
                secrets=secrets[sub.id], event=orjson.loads(event.data),
                event_created_at=event.created_at))
        return claims, more

    async def _prune(self, session: AsyncSession) -> None:
        """Once an hour: the log and the events older than `webhook_log_retention_days`
        (finished ones only; a dead delivery can be replayed until then)."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_S
        days = self.settings.webhook_log_retention_days
        removed = await repository.prune(session, utcnow() - timedelta(days=days))
        if removed:
            log.info("webhook log pruned", extra={"deliveries": removed})

    def _secrets(self, sub: WebhookSubscription, now: datetime) -> list[str]:
        """The current secret, and the previous one while the rotation's overlap lasts."""
        tokens = [sub.secret_ciphertext]
        if sub.previous_secret_ciphertext and sub.previous_secret_until \
                and sub.previous_secret_until > now:
            tokens.append(sub.previous_secret_ciphertext)
        return [open_secret(self.cipher, sub.id, t) for t in tokens]

    # --- one delivery

    async def _deliver(self, claim: Claim) -> None:
        """Post one delivery; its attempt is recorded by the next round (`_record`)."""
        posting = asyncio.current_task()
        assert posting is not None
        self._posting.add(posting)
        try:
            outcome = await self._post(claim)
        finally:
            self._posting.discard(posting)
            self._in_flight[claim.subscription_id] -= 1
        self._ended.append((claim, outcome))
        self.notify()  # record it; the next delivery of this key (or target) may go now

    async def _post(self, claim: Claim) -> Outcome:
        at = utcnow()
        started = time.monotonic()
        allow = self.settings.webhook_allow_loopback
        code: int | None = None
        error: str | None = None
        try:
            target, address = await targets.checked(claim.target_url, allow_loopback=allow)
            body = formats.render(claim.fmt, claim.event, self.base_url)
            url, host, extensions = pinned(target, address)
            headers = {**signing.headers(claim.secrets, str(claim.delivery_id),
                                         int(time.time()), body), **host,
                       "user-agent": "dicht-de-kloof-webhooks/1"}
            # A deadline for the whole request (httpx's timeouts are per read: headers trickled
            # a byte at a time would hold the delivery for hours), and of the answer's body
            # only what a receiver says in a few kilobytes is read (an endless one is left).
            async with asyncio.timeout(self._deadline_s), self._client(target.host).stream(
                    "POST", url, content=body, headers=headers,
                    extensions=extensions) as response:
                code = response.status_code
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read > MAX_ANSWER_BYTES:
                        break
        except targets.TargetRefused as exc:
            error = f"target refused: {exc.code}"
        except (httpx.TimeoutException, TimeoutError):
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        except Exception as exc:  # recorded as a failed attempt, never a stuck lease
            log.warning("webhook post failed", extra={"error": type(exc).__name__})
            error = type(exc).__name__
        return Outcome(at=at, status_code=code, error=error,
                       latency_ms=round((time.monotonic() - started) * 1000, 2))

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            cap = self.settings.webhook_concurrency_per_target
            # As many kept-alive connections as requests in flight: a new TLS handshake per
            # delivery would cost both sides more than the delivery itself.
            client = self._clients[host] = httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_connections=cap, max_keepalive_connections=cap))
        return client

    async def _record(self, session: AsyncSession, ended: list[tuple[Claim, Outcome]],
                      ) -> None:
        """The attempts that ended since the last round: the log, and each delivery's next
        state (delivered, a retry later, or dead after the window)."""
        rows = await repository.locked_deliveries(session, [c.delivery_id for c, _ in ended])
        for claim, outcome in ended:
            row = rows.get(claim.delivery_id)
            if row is not None:
                self._record_one(row, claim, outcome)

    def _record_one(self, row: WebhookDelivery, claim: Claim, outcome: Outcome) -> None:
        s = self.settings
        row.attempts += 1
        session = object_session(row)
        assert session is not None
        session.add(WebhookAttempt(
            delivery_id=row.id, number=row.attempts, at=outcome.at,
            status_code=outcome.status_code, latency_ms=outcome.latency_ms,
            error=outcome.error))
        row.last_status_code = outcome.status_code
        row.last_error = outcome.error
        if row.lease_token == claim.lease_token:
            row.leased_until = None
            row.lease_token = None
        if row.status != DeliveryStatus.PENDING:
            return  # cancelled (subscription deleted) or delivered by another worker
        now = utcnow()
        if outcome.delivered:
            row.status = DeliveryStatus.DELIVERED.value
            row.delivered_at = now
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            WEBHOOK_LATENCY.observe((now - claim.event_created_at).total_seconds())
            return
        delay = backoff_s(row.attempts, s.webhook_retry_base_s, s.webhook_retry_max_s)
        retry_at = now + timedelta(seconds=delay)
        if (retry_at - row.window_started_at).total_seconds() > s.webhook_retry_window_s:
            row.status = DeliveryStatus.DEAD.value
            row.dead_at = now
            WEBHOOK_ATTEMPTS.labels("dead").inc()
            log.warning("webhook delivery dead-lettered", extra={
                "delivery": str(row.id), "subscription": str(row.subscription_id),
                "attempts": row.attempts})
        else:
            row.next_attempt_at = retry_at
            WEBHOOK_ATTEMPTS.labels("failed").inc()

    async def stop(self) -> None:
        async with self._in_transaction:
            await super().stop()
            for task in list(self._posting):  # their leases run out: sent again later
                task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._ended:  # answered before the stop: record them, so they are not sent again
            try:
                async with self.sessions() as session, session.begin():
                    await self._record(session, self._ended)
                self._ended.clear()
            except Exception as exc:  # their leases run out; the receiver drops the copies
                log.warning("webhook attempts not recorded at stop",
                            extra={"error": type(exc).__name__})
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
