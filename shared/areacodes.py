"""Area codes of the register: CBS gemeente / wijk / buurt codes, the nation, programme areas.

CBS codes nest by prefix, so the parent of a code is derived from the code itself:

    BU + gemeente(4 digits) + wijk(2) + buurt(2)   BU0363AB01 -> WK0363AB
    WK + gemeente(4 digits) + wijk(2)              WK0363AB   -> GM0363
    GM + gemeente(4 digits)                        GM0363     -> NL00
    NL00 (the Netherlands, as CBS writes it)       NL00       -> no parent

The wijk and buurt parts are digits or capital letters (`WK0363TL`, `BU0363AF01`).

A programme area (for example an NPLV focus area) is a named group of buurten chosen by a
programme, not a CBS area, so it gets an id of our own: `PA-` + a kebab-case slug of its name
(`PA-amsterdam-nieuw-west`, at most 64 characters). It has no parent in the CBS hierarchy.

Parsing is strict: no surrounding whitespace, uppercase CBS codes, exact lengths. Callers that
read padded CBS files strip the value first.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

NATIONAL_CODE = "NL00"
PROGRAMME_AREA_PREFIX = "PA-"
PROGRAMME_AREA_ID_MAX_LENGTH = 64

_GEMEENTE = re.compile(r"GM[0-9]{4}")
_WIJK = re.compile(r"WK[0-9]{4}[0-9A-Z]{2}")
_BUURT = re.compile(r"BU[0-9]{4}[0-9A-Z]{4}")
_PROGRAMME_AREA = re.compile(r"PA-[a-z0-9]+(?:-[a-z0-9]+)*")
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")


class AreaLevel(StrEnum):
    """The kind of area a code names; the values are the wire names."""

    NATIONAL = "national"
    GEMEENTE = "gemeente"
    WIJK = "wijk"
    BUURT = "buurt"
    PROGRAMME_AREA = "programme-area"


_PARENT_LEVEL: dict[AreaLevel, AreaLevel | None] = {
    AreaLevel.NATIONAL: None,
    AreaLevel.GEMEENTE: AreaLevel.NATIONAL,
    AreaLevel.WIJK: AreaLevel.GEMEENTE,
    AreaLevel.BUURT: AreaLevel.WIJK,
    AreaLevel.PROGRAMME_AREA: None,
}


class InvalidAreaCode(ValueError):
    """A string that is not an area code of the register; `reason` says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"invalid area code {code!r}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AreaCode:
    """A validated area code and its level. Build it with `parse_area_code`."""

    code: str
    level: AreaLevel

    def __post_init__(self) -> None:
        actual = _classify(self.code)
        if actual is not self.level:
            raise InvalidAreaCode(self.code, f"is a {actual} code, not a {self.level} code")

    def __str__(self) -> str:
        return self.code

    @property
    def is_cbs(self) -> bool:
        """True for the CBS hierarchy (national, gemeente, wijk, buurt)."""
        return self.level is not AreaLevel.PROGRAMME_AREA

    @property
    def gemeente_code(self) -> str | None:
        """The `GM` code this area lies in (itself for a gemeente); None above or outside."""
        if self.level in (AreaLevel.GEMEENTE, AreaLevel.WIJK, AreaLevel.BUURT):
            return "GM" + self.code[2:6]
        return None

    @property
    def wijk_code(self) -> str | None:
        """The `WK` code this area lies in (itself for a wijk); None for other levels."""
        if self.level in (AreaLevel.WIJK, AreaLevel.BUURT):
            return "WK" + self.code[2:8]
        return None

    @property
    def parent(self) -> AreaCode | None:
        """The enclosing CBS area; None for the nation and for programme areas."""
        match self.level:
            case AreaLevel.BUURT:
                return AreaCode("WK" + self.code[2:8], AreaLevel.WIJK)
            case AreaLevel.WIJK:
                return AreaCode("GM" + self.code[2:6], AreaLevel.GEMEENTE)
            case AreaLevel.GEMEENTE:
                return AreaCode(NATIONAL_CODE, AreaLevel.NATIONAL)
            case _:
                return None


def parse_area_code(code: str) -> AreaCode:
    """Validate `code` strictly and return it with its level; raises `InvalidAreaCode`."""
    return AreaCode(code, _classify(code))


@functools.lru_cache(maxsize=65536)
def area_level(code: str) -> AreaLevel:
    """The level of a valid code; raises `InvalidAreaCode`. (Cached: a national computation
    asks it for the same 17,500 codes hundreds of thousands of times.)"""
    return _classify(code)


def parent_code(code: str) -> str | None:
    """The parent's code (buurt -> wijk -> gemeente -> NL00); None for NL00 and `PA-` ids."""
    parent = parse_area_code(code).parent
    return None if parent is None else parent.code


def ancestor_codes(code: str) -> tuple[str, ...]:
    """The chain of enclosing codes, nearest first: BU.. -> (WK.., GM.., NL00)."""
    chain: list[str] = []
    parent = parse_area_code(code).parent
    while parent is not None:
        chain.append(parent.code)
        parent = parent.parent
    return tuple(chain)


def is_within(code: str, ancestor: str) -> bool:
    """True if `code` is `ancestor` or lies inside it in the CBS hierarchy."""
    return code == ancestor or ancestor in ancestor_codes(code)


def parent_level(level: AreaLevel) -> AreaLevel | None:
    """The level one step up in the CBS hierarchy; None for national and programme areas."""
    return _PARENT_LEVEL[level]


def is_valid_area_code(code: str) -> bool:
    """True for any code or id the register accepts."""
    try:
        _classify(code)
    except InvalidAreaCode:
        return False
    return True


def is_valid_gemeente_code(code: str) -> bool:
    """True for `GM` + 4 digits."""
    return _GEMEENTE.fullmatch(code) is not None


def is_valid_wijk_code(code: str) -> bool:
    """True for `WK` + 4 digits + 2 digits or capital letters."""
    return _WIJK.fullmatch(code) is not None


def is_valid_buurt_code(code: str) -> bool:
    """True for `BU` + 4 digits + 4 digits or capital letters."""
    return _BUURT.fullmatch(code) is not None


def is_valid_programme_area_id(code: str) -> bool:
    """True for `PA-` + a lowercase kebab-case slug, at most 64 characters in all."""
    return (
        len(code) <= PROGRAMME_AREA_ID_MAX_LENGTH
        and _PROGRAMME_AREA.fullmatch(code) is not None
    )


def programme_area_id(name: str) -> str:
    """The id for a programme area named `name`: "Amsterdam Nieuw-West" -> PA-amsterdam-nieuw-west.

    Accents are folded to ASCII ("Súdwest-Fryslân" -> PA-sudwest-fryslan).
    Raises `ValueError` when nothing usable is left or the id would be too long; we never
    truncate, since two truncated names could collide.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG_SEPARATORS.sub("-", folded.lower()).strip("-")
    if not slug:
        raise ValueError(f"programme area name {name!r} has no letters or digits")
    area_id = PROGRAMME_AREA_PREFIX + slug
    if len(area_id) > PROGRAMME_AREA_ID_MAX_LENGTH:
        raise ValueError(
            f"programme area id {area_id!r} is longer than {PROGRAMME_AREA_ID_MAX_LENGTH}"
        )
    return area_id


def _classify(code: str) -> AreaLevel:
    if not code:
        raise InvalidAreaCode(code, "empty")
    if code != code.strip():
        raise InvalidAreaCode(code, "surrounding whitespace")
    if code.startswith(PROGRAMME_AREA_PREFIX):
        if is_valid_programme_area_id(code):
            return AreaLevel.PROGRAMME_AREA
        raise InvalidAreaCode(
            code,
            "a programme area id is PA- followed by lowercase letters and digits in "
            f"hyphen-separated words, at most {PROGRAMME_AREA_ID_MAX_LENGTH} characters",
        )
    if code == NATIONAL_CODE:
        return AreaLevel.NATIONAL
    prefix = code[:2]
    if prefix != prefix.upper() and prefix.upper() in ("GM", "WK", "BU", "NL"):
        raise InvalidAreaCode(code, "CBS codes are uppercase")
    match prefix:
        case "GM":
            return _check(code, _GEMEENTE, AreaLevel.GEMEENTE, "GM + 4 digits", 6)
        case "WK":
            return _check(
                code, _WIJK, AreaLevel.WIJK, "WK + 4 digits + 2 digits or capital letters", 8
            )
        case "BU":
            return _check(
                code, _BUURT, AreaLevel.BUURT, "BU + 4 digits + 4 digits or capital letters", 10
            )
        case "NL":
            raise InvalidAreaCode(code, f"the national code is exactly {NATIONAL_CODE}")
        case _:
            raise InvalidAreaCode(
                code, f"unknown prefix; expected GM, WK, BU, {NATIONAL_CODE} or PA-"
            )


def _check(
    code: str, pattern: re.Pattern[str], level: AreaLevel, shape: str, length: int
) -> AreaLevel:
    if pattern.fullmatch(code) is not None:
        return level
    if len(code) != length:
        raise InvalidAreaCode(code, f"a {level} code is {shape} ({length} characters)")
    if code != code.upper():
        raise InvalidAreaCode(code, "CBS codes are uppercase")
    raise InvalidAreaCode(code, f"a {level} code is {shape}")
