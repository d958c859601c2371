"""Field encryption: AES-256-GCM for personal free text and contact data at rest."""

from __future__ import annotations

import binascii
import secrets
import struct
from collections.abc import Mapping
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.signals.crypto.material import (
    KEY_ID,
    KeyMaterialError,
    b64url_decode,
    b64url_encode,
    check_key,
    parse_keyring,
)

TOKEN_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class FieldCipherError(Exception):
    """Base of the cipher's failures; messages never contain plaintext."""


class MalformedToken(FieldCipherError):
    """Not a token this cipher writes."""


class UnknownKeyId(FieldCipherError):
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"ciphertext was made with key {key_id!r}, which is not in the keyring.")


class DecryptionFailed(FieldCipherError):
    """Tampered, or the token belongs to another record or field (wrong associated data)."""


def _aad(key_id: str, record_id: str, field: str) -> bytes:
    # Length-prefixed parts: unambiguous whatever characters the ids hold.
    parts = (b"ddk-field", TOKEN_VERSION, key_id, record_id, field)
    encoded = [p if isinstance(p, bytes) else p.encode("utf-8") for p in parts]
    return b"".join(struct.pack(">I", len(p)) + p for p in encoded)


class FieldCipher:
    """AES-256-GCM for personal free text and contact data at rest, with key rotation.

    Token: `v1.<keyid>.<base64url(nonce || ciphertext+tag)>`. The associated data binds the
    token to its record id and field name, so a ciphertext copied to another record or field
    fails to decrypt. Nonces are 96 random bits: rotate the active key well before 2**32
    encryptions under one key.
    """

    def __init__(self, keyring: Mapping[str, bytes], active_key_id: str) -> None:
        for key_id, key in keyring.items():
            if not KEY_ID.fullmatch(key_id):
                raise KeyMaterialError(f"invalid key id {key_id!r}.")
            check_key(key, f"field key {key_id!r}")
        if active_key_id not in keyring:
            raise KeyMaterialError(f"active key id {active_key_id!r} is not in the keyring.")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.items()}
        self._active = active_key_id

    @classmethod
    def from_settings(cls, *, keyring: str, active_key_id: str) -> Self:
        return cls(parse_keyring(keyring, name="field keyring"), active_key_id)

    @property
    def active_key_id(self) -> str:
        return self._active

    def encrypt(self, plaintext: str, *, record_id: str, field: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(
            nonce, plaintext.encode("utf-8"), _aad(self._active, record_id, field)
        )
        return f"{TOKEN_VERSION}.{self._active}.{b64url_encode(nonce + sealed)}"

    def decrypt(self, token: str, *, record_id: str, field: str) -> str:
        key_id, blob = self._parse(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyId(key_id)
        try:
            plain = cipher.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(key_id, record_id, field)
            )
        except InvalidTag:
            raise DecryptionFailed(
                "ciphertext was altered or belongs to another record or field."
            ) from None
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return self._parse(token)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self._active

    def rotate(self, token: str, *, record_id: str, field: str) -> str:
        """Re-encrypt under the active key; a token already under it is returned unchanged."""
        if not self.needs_rotation(token):
            return token
        plaintext = self.decrypt(token, record_id=record_id, field=field)
        return self.encrypt(plaintext, record_id=record_id, field=field)

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes]:
        version, _, rest = token.partition(".")
        key_id, _, body = rest.partition(".")
        if version != TOKEN_VERSION or not KEY_ID.fullmatch(key_id) or not body:
            raise MalformedToken(f"not a {TOKEN_VERSION} field ciphertext.")
        try:
            blob = b64url_decode(body)
        except (ValueError, binascii.Error):
            raise MalformedToken("ciphertext body is not base64url.") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise MalformedToken("ciphertext is too short.")
        return key_id, blob
