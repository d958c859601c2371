"""Key material: 256-bit keys and keyrings as settings give them (base64url strings).

Keys come from settings (environment or a secret store) and never from the database: a stolen
database must not carry the means to link or decrypt its own contents.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

KEY_BYTES = 32
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyMaterialError(ValueError):
    """A configured key is malformed or has the wrong length."""


def generate_key() -> str:
    """A fresh 256-bit key as unpadded base64url, the shape settings expect."""
    return b64url_encode(secrets.token_bytes(KEY_BYTES))


def b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    unpadded = text.rstrip("=")
    return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_key(value: str, *, name: str = "key") -> bytes:
    """Decode a base64url key from settings; it must hold exactly 32 bytes (256 bits)."""
    try:
        key = b64url_decode(value.strip())
    except (ValueError, binascii.Error) as exc:
        raise KeyMaterialError(f"{name}: not valid base64url ({exc}).") from None
    if len(key) != KEY_BYTES:
        problem = "too short" if len(key) < KEY_BYTES else "too long"
        raise KeyMaterialError(
            f"{name}: key is {problem}: {len(key)} bytes after base64url decoding, "
            f"{KEY_BYTES} bytes (256 bits) are required. Generate one with `python -c "
            "'from services.signals.crypto.material import generate_key; print(generate_key())'`."
        )
    return key


def parse_keyring(spec: str, *, name: str = "keyring") -> dict[str, bytes]:
    """Parse `id1:key1,id2:key2` (key ids: 1-32 of `A-Z a-z 0-9 _ -`) into {key id: key}."""
    keyring: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not KEY_ID.fullmatch(key_id):
            raise KeyMaterialError(f"{name}: expected 'keyid:base64urlkey', got {key_id!r}.")
        if key_id in keyring:
            raise KeyMaterialError(f"{name}: key id {key_id!r} appears twice.")
        keyring[key_id] = parse_key(encoded, name=f"{name}[{key_id}]")
    if not keyring:
        raise KeyMaterialError(f"{name}: no keys configured.")
    return keyring


def check_key(key: bytes, name: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{name}: {len(key)} bytes; {KEY_BYTES} bytes are required.")
    return key
