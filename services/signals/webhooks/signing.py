"""Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`,
`webhook-timestamp` and `webhook-signature` = `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.

During a rotation's overlap the message is signed with both secrets, space-separated, as the
specification allows: a receiver that has either one verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret in the specification's form: `whsec_` + base64 of 32 bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()
                                    ).decode()


def headers(secrets_: list[str], webhook_id: str, timestamp: int, body: bytes,
            ) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, webhook_id, timestamp, body)
                                      for s in secrets_),
        "content-type": "application/json",
    }
