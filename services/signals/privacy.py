"""Privacy building blocks: key material, household keys, pseudonyms, field encryption and the
tamper-evident access log. Pure functions and small classes: no database, no settings import.

Keys come from settings (environment or a secret store) as base64url strings and never from the
database: a stolen database must not carry the means to link or decrypt its own contents.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# --------------------------------------------------------------------------- key material

KEY_BYTES = 32
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyMaterialError(ValueError):
    """A configured key is malformed or has the wrong length."""


def generate_key() -> str:
    """A fresh 256-bit key as unpadded base64url, the shape settings expect."""
    return _b64url_encode(secrets.token_bytes(KEY_BYTES))


def _b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    unpadded = text.rstrip("=")
    return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_key(value: str, *, name: str = "key") -> bytes:
    """Decode a base64url key from settings; it must hold exactly 32 bytes (256 bits)."""
    try:
        key = _b64url_decode(value.strip())
    except (ValueError, binascii.Error) as exc:
        raise KeyMaterialError(f"{name}: not valid base64url ({exc}).") from None
    if len(key) != KEY_BYTES:
        problem = "too short" if len(key) < KEY_BYTES else "too long"
        raise KeyMaterialError(
            f"{name}: key is {problem}: {len(key)} bytes after base64url decoding, "
            f"{KEY_BYTES} bytes (256 bits) are required. Generate one with `python -c "
            "'from services.signals.privacy import generate_key; print(generate_key())'`."
        )
    return key


def parse_keyring(spec: str, *, name: str = "keyring") -> dict[str, bytes]:
    """Parse `id1:key1,id2:key2` (key ids: 1-32 of `A-Z a-z 0-9 _ -`) into {key id: key}."""
    keyring: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise KeyMaterialError(f"{name}: expected 'keyid:base64urlkey', got {key_id!r}.")
        if key_id in keyring:
            raise KeyMaterialError(f"{name}: key id {key_id!r} appears twice.")
        keyring[key_id] = parse_key(encoded, name=f"{name}[{key_id}]")
    if not keyring:
        raise KeyMaterialError(f"{name}: no keys configured.")
    return keyring


def _check_key(key: bytes, name: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{name}: {len(key)} bytes; {KEY_BYTES} bytes are required.")
    return key


# --------------------------------------------------------------------------- household keys
# Error messages never echo the input: an address is personal data and errors reach logs.

_POSTCODE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
#: Letter pairs PostNL does not issue (SA, SD, SS carry Second World War connotations).
_UNISSUED_POSTCODE_LETTERS = frozenset({"SA", "SD", "SS"})
_LETTER = re.compile(r"^[A-Z]$")
_ADDITION = re.compile(r"^[A-Z0-9]{1,4}$")
_ORGANISATION = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_HOUSE_NUMBER = 99_999
MAX_UNIT_REF = 64


class InvalidAddress(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _ascii_upper(raw: object, field: str) -> str:
    """Stripped and upper-cased; non-ASCII is left alone (U+FB00 would upper-case to "FF")."""
    if not isinstance(raw, str):
        raise InvalidAddress(field, f"{field} must be a string.")
    text = raw.strip()
    return text.upper() if text.isascii() else text


def normalise_postcode(raw: str) -> str:
    """`1234 ab` -> `1234AB`; whitespace of any kind is dropped, the letters upper-cased."""
    postcode = _ascii_upper("".join(raw.split()) if isinstance(raw, str) else raw, "postcode")
    if not _POSTCODE.fullmatch(postcode):
        raise InvalidAddress("postcode", "not a Dutch postcode like '1234 AB'.")
    if postcode[4:] in _UNISSUED_POSTCODE_LETTERS:
        raise InvalidAddress("postcode", "postcodes ending in SA, SD or SS are not issued.")
    return postcode


def normalise_house_number(raw: int | str) -> int:
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_HOUSE_NUMBER:
        raise InvalidAddress("houseNumber", f"a house number is 1 to {MAX_HOUSE_NUMBER}.")
    return raw


def normalise_house_letter(raw: str | None) -> str | None:
    letter = _ascii_upper(raw, "houseLetter") if raw is not None else ""
    if letter and not _LETTER.fullmatch(letter):
        raise InvalidAddress("houseLetter", "a house letter is one letter a-z.")
    return letter or None


def normalise_house_number_addition(raw: str | None) -> str | None:
    addition = _ascii_upper(raw, "houseNumberAddition") if raw is not None else ""
    if addition and not _ADDITION.fullmatch(addition):
        raise InvalidAddress("houseNumberAddition", "an addition is 1 to 4 letters or digits.")
    return addition or None


def normalise_unit_ref(raw: str) -> str:
    """A corporation's own unit reference: opaque and case-sensitive, trimmed, printable."""
    unit_ref = raw.strip() if isinstance(raw, str) else ""
    if not unit_ref or len(unit_ref) > MAX_UNIT_REF or not unit_ref.isprintable():
        raise InvalidAddress(
            "unitRef", f"a unit reference is 1 to {MAX_UNIT_REF} printable characters."
        )
    return unit_ref


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class DutchAddress(_Frozen):
    """A BAG-style address, normalised on construction (reusable as an API schema)."""

    postcode: str
    house_number: int
    house_letter: str | None = None
    house_number_addition: str | None = None

    _postcode = field_validator("postcode", mode="before")(normalise_postcode)
    _number = field_validator("house_number", mode="before")(normalise_house_number)
    _letter = field_validator("house_letter", mode="before")(normalise_house_letter)
    _addition = field_validator("house_number_addition", mode="before")(
        normalise_house_number_addition
    )


class CorporationUnit(_Frozen):
    """A rental unit by the corporation's own reference; only unique within that corporation."""

    organisation: str = Field(pattern=_ORGANISATION, max_length=64)
    unit_ref: str

    _unit_ref = field_validator("unit_ref", mode="before")(normalise_unit_ref)


def household_key(ref: DutchAddress | CorporationUnit) -> str:
    """The canonical household string that pseudonyms are computed from.

    `address:1234AB:12:A:BIS` (empty letter or addition stay empty) or
    `unit:<organisation>:<unitRef>`. The forms never collide, and the same unitRef at two
    corporations gives two households. The same home given once by address and once by unitRef
    also gives two households: clients should send the address whenever they have it.
    """
    if isinstance(ref, DutchAddress):
        letter, addition = ref.house_letter or "", ref.house_number_addition or ""
        return f"address:{ref.postcode}:{ref.house_number}:{letter}:{addition}"
    return f"unit:{ref.organisation}:{ref.unit_ref}"


# --------------------------------------------------------------------------- pseudonyms


class PseudonymPurpose(StrEnum):
    #: Matching signals of one household inside the signals service.
    OPERATIONAL = "operational"
    #: On events for indicators: count distinct households, never link back.
    STATISTICS = "statistics"


class Pseudonymiser:
    """Keyed HMAC-SHA256 of a household key, one key per purpose.

    Output: all 256 bits as 64 lower-case hex characters. Not truncated, so distinct counts over
    millions of households have no collisions to worry about; hex survives any column collation.
    """

    def __init__(self, *, operational_key: bytes, statistics_key: bytes) -> None:
        keys = {
            PseudonymPurpose.OPERATIONAL: _check_key(operational_key, "operational key"),
            PseudonymPurpose.STATISTICS: _check_key(statistics_key, "statistics key"),
        }
        if hmac.compare_digest(operational_key, statistics_key):
            raise KeyMaterialError("the operational and statistics keys must differ.")
        self._keys = keys

    @classmethod
    def from_settings(cls, *, operational_key: str, statistics_key: str) -> Self:
        return cls(
            operational_key=parse_key(operational_key, name="operational pseudonym key"),
            statistics_key=parse_key(statistics_key, name="statistics pseudonym key"),
        )

    def pseudonym(self, purpose: PseudonymPurpose, household: str) -> str:
        message = f"ddk-pseudonym-v1\x00{purpose}\x00{household}".encode()
        return hmac.new(self._keys[purpose], message, hashlib.sha256).hexdigest()

    def operational(self, household: str) -> str:
        return self.pseudonym(PseudonymPurpose.OPERATIONAL, household)

    def statistics(self, household: str) -> str:
        return self.pseudonym(PseudonymPurpose.STATISTICS, household)


# --------------------------------------------------------------------------- field encryption

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
            if not _KEY_ID.fullmatch(key_id):
                raise KeyMaterialError(f"invalid key id {key_id!r}.")
            _check_key(key, f"field key {key_id!r}")
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
        return f"{TOKEN_VERSION}.{self._active}.{_b64url_encode(nonce + sealed)}"

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
        if version != TOKEN_VERSION or not _KEY_ID.fullmatch(key_id) or not body:
            raise MalformedToken(f"not a {TOKEN_VERSION} field ciphertext.")
        try:
            blob = _b64url_decode(body)
        except (ValueError, binascii.Error):
            raise MalformedToken("ciphertext body is not base64url.") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise MalformedToken("ciphertext is too short.")
        return key_id, blob


# The access log lives in its own module; these names stay importable from here.
from services.signals.access_chain import (  # noqa: E402
    GENESIS,
    GENESIS_HASH,
    AccessLogEntry,
    AccessOutcome,
    ChainedAccessLogEntry,
    ChainPosition,
    ChainWalk,
    VerifyResult,
    canonical_json,
    chain_hash,
    format_utc,
    link,
    verify_chain,
)

__all__ = [
    "GENESIS", "GENESIS_HASH", "AccessLogEntry", "AccessOutcome", "ChainPosition",
    "ChainWalk", "ChainedAccessLogEntry", "VerifyResult", "canonical_json", "chain_hash",
    "format_utc", "link", "verify_chain",
]
