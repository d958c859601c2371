"""Refused reads of personal data: every refusal is recorded, never the data it protected.

One entry point, `log_refusal`, called wherever a read of personal data is refused (a field
worker on a colleague's signal, a partner of another team, a referral whose access ended). It
writes a structured log line and counts the refusal; the record holds ids, role, purpose and
reason only. It takes the session so that it can also append to the access-log chain (outcome
`refused`) without changing its callers.
"""

from __future__ import annotations

import logging
import uuid

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal

log = logging.getLogger(__name__)

REFUSALS = Counter("signals_personal_data_refusals", "Refused reads of personal data",
                   ["reason"])


async def log_refusal(session: AsyncSession, principal: Principal, *, purpose: str | None,
                      record_type: str, record_id: uuid.UUID | str, reason: str) -> None:
    """Record that `principal` was refused the personal data of one record, and why."""
    del session  # not yet: the access-log chain takes refusals once it records outcomes
    REFUSALS.labels(reason=reason).inc()
    log.warning("personal data refused", extra={
        "subject": principal.subject, "organisation": principal.organisation,
        "roles": sorted(r.value for r in principal.roles), "purpose": purpose,
        "record_type": record_type, "record_id": str(record_id), "reason": reason})
