"""Every read of raw (not disclosure-controlled) indicator values is logged and counted.

The log line names the reader's organisation and roles, the endpoint, area and period; not the
person (no personal data in logs): the identity provider's token log ties a request id to
whoever held the token.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from shared.auth import Principal

log = logging.getLogger("services.indicators.audit")

RAW_READS = Counter("indicators_raw_reads_total",
                    "Reads of raw (not disclosure-controlled) indicator values", ["endpoint"])


def raw_read(principal: Principal, endpoint: str, area: str | None = None,
             period: str | None = None) -> None:
    RAW_READS.labels(endpoint).inc()
    log.info("raw indicator values read", extra={
        "audit": "raw-read", "endpoint": endpoint, "organisation": principal.organisation,
        "roles": sorted(r.value for r in principal.roles), "area": area, "period": period})
