"""What a cell of the CBS "Kerncijfers wijken en buurten" means: the statistics we keep, the
CBS columns they come from (StatLine keys and the short codes of cbs.nl's kwb-YYYY.csv), and
how one cell reads as a number (`cbs_csv.py` reads whole files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Final, TypeAlias

CBS_SPECIAL_VALUES: Final[dict[Decimal, str]] = {
    Decimal(-99997): "secret",
    Decimal(-99995): "not yet available",
    Decimal(-99991): "discontinued",
}
UNKNOWN_SYMBOLS: Final = frozenset({"", ".", "x"})


class StatName(StrEnum):
    """The statistics we keep per area and year, by their camelCase domain names."""

    INHABITANTS = "inhabitants"
    HOUSEHOLDS = "households"
    DWELLINGS = "dwellings"
    CORPORATION_DWELLINGS = "corporationDwellings"
    CORPORATION_DWELLINGS_PCT = "corporationDwellingsPct"
    MEAN_WOZ_VALUE = "meanWozValue"
    LOW_INCOME_HOUSEHOLDS_PCT = "lowIncomeHouseholdsPct"
    BIJSTAND_RECIPIENTS = "bijstandRecipients"
    WW_RECIPIENTS = "wwRecipients"
    AO_RECIPIENTS = "aoRecipients"
    LABOUR_PARTICIPATION_PCT = "labourParticipationPct"
    YOUTH_CARE_PCT = "youthCarePct"


StatValue: TypeAlias = int | float
AreaStats: TypeAlias = dict[StatName, StatValue | None]


def empty_stats() -> AreaStats:
    """Every statistic present and unknown."""
    return dict.fromkeys(StatName)


class CbsUnit(Enum):
    COUNT = "count"
    PERCENT = "percent"
    THOUSANDS_OF_EUROS = "thousands of euros"


@dataclass(frozen=True, slots=True)
class CbsColumn:
    """Where a statistic comes from: the CBS key without its `_<n>` suffix, and its unit."""

    stat: StatName
    key: str
    unit: CbsUnit


CBS_COLUMNS: Final[tuple[CbsColumn, ...]] = (
    CbsColumn(StatName.INHABITANTS, "AantalInwoners", CbsUnit.COUNT),
    CbsColumn(StatName.HOUSEHOLDS, "HuishoudensTotaal", CbsUnit.COUNT),
    CbsColumn(StatName.DWELLINGS, "Woningvoorraad", CbsUnit.COUNT),
    CbsColumn(StatName.CORPORATION_DWELLINGS_PCT, "InBezitWoningcorporatie", CbsUnit.PERCENT),
    CbsColumn(
        StatName.MEAN_WOZ_VALUE, "GemiddeldeWOZWaardeVanWoningen", CbsUnit.THOUSANDS_OF_EUROS
    ),
    CbsColumn(
        StatName.LOW_INCOME_HOUSEHOLDS_PCT, "HuishoudensMetEenLaagInkomen", CbsUnit.PERCENT
    ),
    CbsColumn(StatName.BIJSTAND_RECIPIENTS, "PersonenPerSoortUitkeringBijstand", CbsUnit.COUNT),
    CbsColumn(StatName.WW_RECIPIENTS, "PersonenPerSoortUitkeringWW", CbsUnit.COUNT),
    CbsColumn(StatName.AO_RECIPIENTS, "PersonenPerSoortUitkeringAO", CbsUnit.COUNT),
    CbsColumn(StatName.LABOUR_PARTICIPATION_PCT, "Nettoarbeidsparticipatie", CbsUnit.PERCENT),
    # The rate, not the count `JongerenMetJeugdzorgInNatura`: comparable across buurten.
    CbsColumn(StatName.YOUTH_CARE_PCT, "PercentageJongerenMetJeugdzorg", CbsUnit.PERCENT),
)

# The short column codes of cbs.nl's kwb-YYYY.csv; the WOZ column was renamed `g_wozbag`
# (valued from the BAG) in later editions.
KWB_COLUMNS: Final[tuple[CbsColumn, ...]] = (
    CbsColumn(StatName.INHABITANTS, "a_inw", CbsUnit.COUNT),
    CbsColumn(StatName.HOUSEHOLDS, "a_hh", CbsUnit.COUNT),
    CbsColumn(StatName.DWELLINGS, "a_woning", CbsUnit.COUNT),
    CbsColumn(StatName.CORPORATION_DWELLINGS_PCT, "p_wcorpw", CbsUnit.PERCENT),
    CbsColumn(StatName.MEAN_WOZ_VALUE, "g_woz", CbsUnit.THOUSANDS_OF_EUROS),
    CbsColumn(StatName.MEAN_WOZ_VALUE, "g_wozbag", CbsUnit.THOUSANDS_OF_EUROS),
    CbsColumn(StatName.LOW_INCOME_HOUSEHOLDS_PCT, "p_hh_li", CbsUnit.PERCENT),
    CbsColumn(StatName.BIJSTAND_RECIPIENTS, "a_soz_wb", CbsUnit.COUNT),
    CbsColumn(StatName.WW_RECIPIENTS, "a_soz_ww", CbsUnit.COUNT),
    CbsColumn(StatName.AO_RECIPIENTS, "a_soz_ao", CbsUnit.COUNT),
    CbsColumn(StatName.LABOUR_PARTICIPATION_PCT, "p_arb_pp", CbsUnit.PERCENT),
    CbsColumn(StatName.YOUTH_CARE_PCT, "p_jz_tn", CbsUnit.PERCENT),
)


NUMBER_SHAPE = re.compile(r"-?[0-9][0-9.,]*")


def parse_cbs_number(raw: str, decimal_mark: str | None = None) -> Decimal | None:
    """One CBS cell as a number; None when unknown; raises ValueError when not a number.

    `decimal_mark` is the file's (`,` or `.`), the other mark then separates thousands in
    groups of three. Without it, a lone mark followed by exactly three digits (`1.000`) could
    be either, and is refused as ambiguous.
    """
    value = raw.strip()
    if value in UNKNOWN_SYMBOLS:
        return None
    shown = value
    if NUMBER_SHAPE.fullmatch(value) and ("," in value or "." in value):
        value = _plain_decimal(value, decimal_mark)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{shown!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{shown!r} is not a number")
    if number in CBS_SPECIAL_VALUES:
        return None
    return number


def _plain_decimal(value: str, decimal_mark: str | None) -> str:
    """`1.234,5` -> `1234.5`; raises ValueError where the marks are misplaced or ambiguous."""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    if decimal_mark is None:
        if "," in digits and "." in digits:
            decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        else:
            mark = "," if "," in digits else "."
            if digits.count(mark) > 1:
                decimal_mark = "." if mark == "," else ","
            elif len(digits) - digits.index(mark) - 1 == 3:
                raise ValueError(f"{value!r} is ambiguous: the file shows no decimal mark, so "
                                 f"'{mark}' may separate thousands or decimals")
            else:
                decimal_mark = mark
    group = "." if decimal_mark == "," else ","
    whole, _, fraction = digits.partition(decimal_mark)
    if decimal_mark in fraction or group in fraction:
        raise ValueError(f"{value!r} has a misplaced separator")
    if group in whole:
        parts = whole.split(group)
        if not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])):
            raise ValueError(f"{value!r}: '{group}' separates thousands here, but not in "
                             "groups of three")
        whole = "".join(parts)
    if not whole or (decimal_mark in digits and not fraction):
        raise ValueError(f"{value!r} is not a number")
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def looks_like_thousands(raw: str, decimal_mark: str | None) -> bool:
    """A whole figure (a count, thousands of euros) written as `1.000` with the decimal mark:
    three decimals on a whole figure are far likelier a thousands separator."""
    value = raw.strip().removeprefix("-")
    if decimal_mark is None or decimal_mark not in value or not NUMBER_SHAPE.fullmatch(value):
        return False
    return len(value.partition(decimal_mark)[2]) == 3
