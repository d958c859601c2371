"""Fixtures of the signals tests: the app with test keys, and bodies to send."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.signals.crypto.material import generate_key
from tests.apps import runtime_of

#: Keys for the tests only, passed as settings overrides (never the dev key file).
TEST_KEYS = {
    "operational_pseudonym_key": generate_key(),
    "statistics_pseudonym_key": generate_key(),
    "field_keyring": f"old:{generate_key()},new:{generate_key()}",
    "field_active_key_id": "new",
    "access_log_key": generate_key(),
    "access_log_checkpoint_interval_s": 0,
    "purge_interval_s": 0,
}

POSTCODE = "3011 AB"
NOTE = "Buurman hoort geschreeuw, zorgen om de kinderen"
AMOUNT = 123_456

#: The test postcode as a postcode, not as four digits that a random id or a timestamp's
#: microseconds may hold by chance (a bare "3011" check failed CI once on such an id).
_POSTCODE_IN_TEXT = re.compile(r"(?<![0-9a-f])3011 ?ab(?![0-9a-f])", re.IGNORECASE)


def names_the_postcode(text: str) -> bool:
    return _POSTCODE_IN_TEXT.search(text) is not None


def recent(minutes: int = 60) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def signal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()), "category": "nuisance", "subcategory": "noise",
        "observedAt": recent(), "severity": "medium", "areaCode": "BU05990101",
        "postcode": POSTCODE, "houseNumber": 17, "houseLetter": "b", "note": NOTE,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def rent_arrears_body(**overrides: Any) -> dict[str, Any]:
    """Explicit None values stay, so `create(client, h, **rent_arrears_body())` drops them."""
    return {**signal_body(), **{
        "category": "rent-arrears", "subcategory": None, "note": None,
        "arrearsAmountCents": AMOUNT, "arrearsSince": "2026-08-01",
        "personalContactAttemptedAt": recent(600), "debtHelpPointedAt": recent(500),
        "writtenReminderAt": recent(400), **overrides}}


@pytest.fixture
def signals_service(start_service: Callable[..., Any]) -> Callable[
        ..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """async with signals_service() as client: the app with test keys, relay off by default."""

    def start(**overrides: Any) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        # Tests share one broker: each app checkpoints its access log to a topic of its own.
        checkpoints = f"access-log-checkpoints.v1.test-{uuid.uuid4().hex[:12]}"
        return start_service("signals", **{
            **TEST_KEYS, "relay_enabled": False, "access_log_checkpoint_topic": checkpoints,
            **overrides})

    return start


@contextlib.asynccontextmanager
async def db(client: httpx.AsyncClient) -> AsyncIterator[Any]:
    rt = runtime_of(client)
    async with rt.sessions() as session, session.begin():
        yield session


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any,
                 ) -> dict[str, Any]:
    r = await client.post("/v1/signals", json=signal_body(**overrides), headers=headers)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def move(client: httpx.AsyncClient, signal_id: str, headers: dict[str, str], status: str,
               **extra: Any) -> httpx.Response:
    """A status change with the current ETag."""
    current = await client.get(f"/v1/signals/{signal_id}", headers=headers)
    return await client.post(
        f"/v1/signals/{signal_id}/status-changes", json={"status": status, **extra},
        headers={**headers, "If-Match": current.headers["ETag"]})
