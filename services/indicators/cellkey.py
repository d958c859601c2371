"""The cell-key method: consistent random perturbation of published counts.

Each household gets a record key, a whole number in [0, 2^32) derived with a keyed HMAC from
its statistics pseudonym and a secret only this service holds (`cell_key_secret`; never the
signals service's statistics key). A signal's record key is its household's. The key of a
cell (one count of one area in one period) is the sum of the record keys of the units it
counts, modulo 2^32, computed in SQL as a plain integer sum: the same units always give the
same cell key, whatever query, area or period reaches them.

The perturbation of a count n comes from the p-table row of n, at the cell key read as a
quantile in [0, 1): the same cell always gets the same noise, so asking again or asking
another way gives nothing new to average. Rows (probability of each noise value):

    n = 0      0 stays 0 ("no cases" is not a group of people)
    n = 1-4    never perturbed: withheld as `small-count` before this step
    n = 5      0 .50  +1 .30  +2 .15  +3 .04  +4 .01                      (never below 5)
    n = 6      -1 .30  0 .40  +1 .20  +2 .07  +3 .02  +4 .01              (never below 5)
    n = 7      -2 .07  -1 .25  0 .40  +1 .20  +2 .05  +3 .02  +4 .01      (never below 5)
    n = 8      -3 .01  -2 .04  -1 .20  0 .50  +1 .20  +2 .04  +3 .008  +4 .002
    n >= 9     -4 .002  -3 .008  -2 .04  -1 .20  0 .50  +1 .20  +2 .04  +3 .008  +4 .002

So a published count is never 1-4 and is within MAX_NOISE (4) of the true count, and within
2 in 98 of 100 cells (n >= 8). For n >= 8 the noise is unbiased with variance 0.93; for 5, 6
and 7 the mean is +0.76, +0.14 and +0.01. The thin tails are deliberate: an attacker who
combines figures can only be certain of a value when the noise of every figure involved sits
at the same extreme, which for two figures happens about 4 times in a million.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path
from typing import Final

from shared.devfiles import made_once

KEY_SPACE: Final = 2**32
MAX_NOISE: Final = 4
_SMALLEST_PUBLISHED: Final = 5

_ROWS: Final[dict[int, dict[int, float]]] = {
    5: {0: .50, 1: .30, 2: .15, 3: .04, 4: .01},
    6: {-1: .30, 0: .40, 1: .20, 2: .07, 3: .02, 4: .01},
    7: {-2: .07, -1: .25, 0: .40, 1: .20, 2: .05, 3: .02, 4: .01},
    8: {-3: .01, -2: .04, -1: .20, 0: .50, 1: .20, 2: .04, 3: .008, 4: .002},
    9: {-4: .002, -3: .008, -2: .04, -1: .20, 0: .50, 1: .20, 2: .04, 3: .008, 4: .002},
}


def _cumulative(row: dict[int, float]) -> tuple[tuple[int, ...], list[float]]:
    bounds = list(accumulate(row.values()))
    assert abs(bounds[-1] - 1) < 1e-9, row
    bounds[-1] = 1.0
    return tuple(row), bounds


_TABLE: Final = {n: _cumulative(row) for n, row in _ROWS.items()}


def noise(n: int, cell_key: int) -> int:
    """The p-table's noise for a true count n >= 5 at a cell key."""
    noises, bounds = _TABLE[min(n, 9)]
    quantile = (cell_key % KEY_SPACE) / KEY_SPACE
    return noises[min(bisect_right(bounds, quantile), len(noises) - 1)]


def perturb(n: int, cell_key: int) -> int:
    """The published value of a publishable count (0, or 5 and more)."""
    if n == 0:
        return 0
    if n < _SMALLEST_PUBLISHED:
        raise ValueError(f"a count of {n} is withheld, never perturbed")
    return n + noise(n, cell_key)


class RecordKeys:
    """Derives record keys from statistics pseudonyms with this service's secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the cell-key secret must have at least 256 bits")
        self._secret = secret

    def of(self, pseudonym: str) -> int:
        digest = hmac.new(self._secret, b"record-key:" + pseudonym.encode(), hashlib.sha256)
        return int.from_bytes(digest.digest()[:4], "big")


def record_keys(secret: str, dev_keys_file: str) -> RecordKeys:
    """The configured secret (base64url), or in the embedded default a dev secret generated
    once into `dev_keys_file` (never committed: `var/` is ignored)."""
    if not secret:
        secret = _dev_secret(Path(dev_keys_file))
    return RecordKeys(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4)))


def _dev_secret(path: Path) -> str:
    made = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    value: str = json.loads(made_once(path, json.dumps({"cell_key_secret": made}).encode())
                            )["cell_key_secret"]
    return value
