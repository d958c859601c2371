"""Addresses and households: one validator set for every body that carries an address, and
the canonical household key that pseudonyms are computed from.

Request bodies type their address fields with `Postcode`, `HouseNumber`, `HouseLetter`,
`HouseNumberAddition` and `UnitRef`: the wire limits (length, range) are checked first, then
the field is normalised; a value that does not fit is an `invalid_address` error on that field.
`DutchAddress` and `CorporationUnit` are the normalised values a household key is made of.

Error messages never echo the input: an address is personal data and errors reach logs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from services.signals.schemas_common import Frozen
from shared.wire import PlainText

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


def _field_rule(normalise: Callable[[Any], Any]) -> AfterValidator:
    """`normalise` as a pydantic field validator: its refusal becomes an `invalid_address`."""

    def check(value: Any) -> Any:
        try:
            return normalise(value)
        except InvalidAddress as exc:
            raise PydanticCustomError("invalid_address", str(exc)) from None

    return AfterValidator(check)


Postcode = Annotated[str, Field(max_length=7), _field_rule(normalise_postcode)]
HouseNumber = Annotated[int, Field(ge=1, le=MAX_HOUSE_NUMBER)]
HouseLetter = Annotated[str, Field(max_length=1), _field_rule(normalise_house_letter)]
HouseNumberAddition = Annotated[
    str, Field(max_length=4), _field_rule(normalise_house_number_addition)]
UnitRef = Annotated[str, Field(max_length=MAX_UNIT_REF), _field_rule(normalise_unit_ref)]
#: A unit reference typed by people (the field app): control characters refused first.
UnitRefText = Annotated[PlainText, Field(max_length=MAX_UNIT_REF), _field_rule(normalise_unit_ref)]


class DutchAddress(Frozen):
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


class CorporationUnit(Frozen):
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
