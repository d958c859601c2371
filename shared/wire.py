"""Input types that take JSON and query values as written, not as pydantic's lax mode guesses.

Lax mode reads `0.5` as a Unix timestamp and `false` as the number 0; an API that promises an
RFC 3339 moment or a number should refuse those, so a client's mistake cannot slip in as data.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Strict

_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _NUMERIC.match(value):
        raise ValueError("give a moment as RFC 3339 text, e.g. 2026-11-28T09:30:00+01:00")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
"""A moment with its UTC offset, written as RFC 3339 text."""

WholeNumber = Annotated[int, Strict()]
"""A JSON integer: no booleans, no strings, no fractions."""

Number = Annotated[float, Strict()]
"""A JSON number: integers welcome, booleans and strings not."""


# Unicode category Cc (C0, DEL and C1) less tab, line feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_characters(value: str) -> str:
    # NUL and other C0/C1 controls have no place in a note; PostgreSQL text cannot even hold
    # NUL. Tab and line breaks are ordinary in free text; format characters (e.g. the marks
    # that right-to-left scripts need) are kept.
    if _CONTROL.search(value):
        raise ValueError("control characters (other than tab and line breaks) are not allowed")
    return value


PlainText = Annotated[str, AfterValidator(_no_control_characters)]
"""Free text as people type it: no NUL or other control characters."""
