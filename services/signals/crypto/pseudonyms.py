"""Pseudonyms: keyed HMAC of a household key, one key per purpose."""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Self

from services.signals.crypto.material import KeyMaterialError, check_key, parse_key


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
            PseudonymPurpose.OPERATIONAL: check_key(operational_key, "operational key"),
            PseudonymPurpose.STATISTICS: check_key(statistics_key, "statistics key"),
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
