"""Refused reads of personal data: every refusal is recorded, never the data it protected.

One entry point, `log_refusal`, called wherever a read of personal data is refused (a field
worker on a colleague's signal, a partner of another team, a referral whose access ended). The
refusal goes into the access-log chain (outcome `refused`, no fields), a structured log line
(ids, role, purpose and reason only) and a counter.

The chain entry is committed at once: the 403 that usually follows rolls the request's
transaction back, and a refusal that vanished with it would hide exactly the attempts a
privacy officer looks for. Everything a request did before a refusal is a read, so committing
there writes nothing else.
"""

from __future__ import annotations

import logging
import uuid

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog import repository
from services.signals.accesslog.chain import AccessOutcome
from shared.auth import Principal

log = logging.getLogger(__name__)

REFUSALS = Counter("signals_personal_data_refusals", "Refused reads of personal data",
                   ["reason"])

#: What the chain records as the purpose when none was given (its fields are never empty).
NO_PURPOSE = "none"


async def log_refusal(session: AsyncSession, principal: Principal, *, key: bytes, role: str,
                      purpose: str | None, record_type: str, record_id: uuid.UUID | str,
                      controller: str, reason: str) -> None:
    """Record that `principal` was refused the personal data of one record, and why."""
    await repository.append(
        session, principal, key=key, role=role, purpose=purpose or NO_PURPOSE,
        record_type=record_type, record_id=record_id, fields=(), controller=controller,
        outcome=AccessOutcome.REFUSED)
    await session.commit()
    REFUSALS.labels(reason=reason).inc()
    log.warning("personal data refused", extra={
        "subject": principal.subject, "organisation": principal.organisation,
        "roles": sorted(r.value for r in principal.roles), "purpose": purpose,
        "record_type": record_type, "record_id": str(record_id), "reason": reason})
