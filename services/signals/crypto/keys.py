"""The service's key material, from settings or (embedded default only) a generated dev file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import orjson

from services.signals.crypto.fields import FieldCipher
from services.signals.crypto.material import generate_key, parse_key
from services.signals.crypto.pseudonyms import Pseudonymiser
from services.signals.settings import Settings
from shared.devfiles import amended, made_once


@dataclass(frozen=True)
class Crypto:
    pseudonymiser: Pseudonymiser
    cipher: FieldCipher
    #: Keys the access log's hash chain; never stored in the database.
    access_log_key: bytes

    def request_hash(self, canonical_body: bytes) -> str:
        """Keyed digest of a request body: an unkeyed hash of an address could be guessed."""
        digest = hashlib.sha256(canonical_body).hexdigest()
        return self.pseudonymiser.operational(f"request-body:{digest}")

    def idempotency_key_hash(self, key: str) -> str:
        """What is stored of an `Idempotency-Key`: keyed, as a client may put anything in it."""
        return self.pseudonymiser.operational(f"idempotency-key:{key}")


def _dev_keys(path: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads(made_once(path, orjson.dumps({
        "operational_pseudonym_key": generate_key(),
        "statistics_pseudonym_key": generate_key(),
        "field_keyring": f"dev1:{generate_key()}",
        "field_active_key_id": "dev1",
        "access_log_key": generate_key(),
    })))
    if "access_log_key" not in keys:
        keys = json.loads(amended(path, _with_access_log_key))
    return keys


def _with_access_log_key(content: bytes) -> bytes | None:
    """A dev file from before the access log gains its key (None: it has one already)."""
    keys = json.loads(content)
    if "access_log_key" in keys:
        return None
    return orjson.dumps({**keys, "access_log_key": generate_key()})


def build_crypto(settings: Settings) -> Crypto:
    """Keys from settings; when none are configured, the dev file (created once)."""
    values = {
        "operational_pseudonym_key": settings.operational_pseudonym_key,
        "statistics_pseudonym_key": settings.statistics_pseudonym_key,
        "field_keyring": settings.field_keyring,
        "field_active_key_id": settings.field_active_key_id,
        "access_log_key": settings.access_log_key,
    }
    if not any(values.values()):
        values = _dev_keys(Path(settings.dev_keys_file))
    return Crypto(
        pseudonymiser=Pseudonymiser.from_settings(
            operational_key=values["operational_pseudonym_key"],
            statistics_key=values["statistics_pseudonym_key"],
        ),
        cipher=FieldCipher.from_settings(
            keyring=values["field_keyring"], active_key_id=values["field_active_key_id"]
        ),
        access_log_key=parse_key(values["access_log_key"], name="access log key"),
    )
