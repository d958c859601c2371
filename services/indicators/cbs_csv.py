"""Read the CBS table "Kerncijfers wijken en buurten" (open data, CC BY 4.0) from CSV.

Two layouts are read, told apart by the header:

- the file users download from cbs.nl, `kwb-YYYY.csv`, with short column codes:

    gwb_code_10;gwb_code_8;regio;gm_naam;recs;gwb_code;ind_wbi;a_inw;...;a_hh;...;g_woz;...

  the code in `gwb_code_10` (or `gwb_code`), the name in `regio`, the level in `recs`
  (Land, Gemeente, Wijk, Buurt), `.` for unknown or secret;
- the StatLine layout below.

For StatLine we read the column keys of the CBS open-data tables (84799NED, 85039NED,
85318NED, 85618NED, 85984NED, ...), as in the "onbewerkte dataset" CSV or an OData
TypedDataSet saved as CSV:

    ID;WijkenEnBuurten;Gemeentenaam_1;SoortRegio_2;Codering_3;...;AantalInwoners_5;...

Keys carry a numeric suffix that shifts from year to year (`HuishoudensTotaal_28` in one
table, `HuishoudensTotaal_29` in the next), so a column is known by its name without the
`_<n>` suffix, compared case-insensitively. The area code comes from `Codering` (or, when
absent, `WijkenEnBuurten` / `RegioS`), padded with spaces by CBS. `WijkenEnBuurten` holds the
code in a raw export and the region name in an export with labels; we take the name from it
when it is not a code, and otherwise fall back to `Gemeentenaam` for gemeente rows only.

Values: empty, `.`, `x` and the CBS special values -99997 (secret), -99995 (not yet
available) and -99991 (discontinued) mean "unknown" and become None, never zero. A decimal
comma (`47,3`) is read as well as a decimal point. CBS files have no thousands separators, but
a file that went through a spreadsheet may: `1.000` is a thousand in a file whose other figures
show a decimal comma, and a row is rejected where the file does not say which mark is decimal
(`1.000` inhabitants is never read as 1, nor a WOZ value of `1.250` as 1,250 euros).
Line endings may be `\n`, `\r\n` or the old-Mac `\r`.

Units in our domain (see `StatName`): counts are whole numbers, `*Pct` are percentages 0-100,
`meanWozValue` is in euros (CBS publishes thousands of euros). The Kerncijfers give the share
of dwellings owned by housing corporations, not a count, so `corporationDwellings` is derived
as round-half-up(`corporationDwellingsPct` x `dwellings` / 100).

A file that is not this layout raises `MalformedFile` and yields nothing; rows that are wrong
one by one (bad code, negative count, percentage over 100, duplicate) are listed in
`ParseResult.rejected` with their reasons, and the rest is kept.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from services.indicators.cbs_cells import (
    CBS_COLUMNS,
    KWB_COLUMNS,
    NUMBER_SHAPE,
    AreaStats,
    CbsColumn,
    CbsUnit,
    StatName,
    empty_stats,
    looks_like_thousands,
    parse_cbs_number,
)
from shared.areacodes import AreaCode, AreaLevel, InvalidAreaCode, parse_area_code

MAX_KERNCIJFERS_BYTES: Final = 50 * 1024 * 1024
FIRST_KERNCIJFERS_YEAR: Final = 1995  # the first StatLine edition of the Kerncijfers
LAST_PLAUSIBLE_YEAR: Final = 2100

_DELIMITERS: Final = (";", ",", "\t")
_KEY_SUFFIX = re.compile(r"_[0-9]+$")
_CODE_KEYS: Final = ("codering", "wijkenenbuurten", "regios")
_KWB_CODE_KEYS: Final = ("gwb_code_10", "gwb_code")
_REGION_TYPES: Final[dict[str, AreaLevel]] = {
    "land": AreaLevel.NATIONAL,
    "nederland": AreaLevel.NATIONAL,
    "gemeente": AreaLevel.GEMEENTE,
    "wijk": AreaLevel.WIJK,
    "buurt": AreaLevel.BUURT,
}


class KerncijfersImportError(ValueError):
    """A Kerncijfers file that cannot be imported at all; nothing of it is used."""


class MalformedFile(KerncijfersImportError):
    """The content is not a CBS Kerncijfers CSV (not text, not CSV, no code or stat column)."""


class FileTooLarge(KerncijfersImportError):
    """The file is over `MAX_KERNCIJFERS_BYTES`."""


@dataclass(frozen=True, slots=True)
class AreaStatisticsRow:
    """One accepted row: an area's statistics for one year."""

    code: str
    level: AreaLevel
    name: str | None
    municipality_name: str | None
    parent_code: str | None
    year: int
    stats: AreaStats
    line: int


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row left out, with every reason found (1-based physical line; the header is 1)."""

    line: int
    code: str | None
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class ParseResult:
    year: int
    delimiter: str
    columns: dict[StatName, str]  # our statistic -> the CBS column header it was read from
    rows: list[AreaStatisticsRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    layout: str = "statline"  # or "kwb": cbs.nl's kwb-YYYY.csv
    decimal_mark: str | None = None  # as the file shows it; None where it does not say

    @property
    def missing_stats(self) -> tuple[StatName, ...]:
        """Statistics this file has no column for (always None in its rows)."""
        derived = {StatName.CORPORATION_DWELLINGS}
        return tuple(s for s in StatName if s not in self.columns and s not in derived)


def decode_kerncijfers(data: bytes) -> str:
    """Bytes of an upload to text: size limit, no binary; UTF-8 (with BOM), UTF-16 with a BOM
    (a spreadsheet's "Unicode text") or Windows-1252."""
    if len(data) > MAX_KERNCIJFERS_BYTES:
        raise FileTooLarge(f"the file is over {MAX_KERNCIJFERS_BYTES} bytes")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise MalformedFile("the file starts as UTF-16 but is not") from None
    if b"\x00" in data:
        raise MalformedFile("the file has binary content, not CSV text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MalformedFile("the file is not text in UTF-8 or Windows-1252")


def parse_kerncijfers(text: str, year: int) -> ParseResult:
    """Parse a Kerncijfers CSV whose figures are about `year` (the file does not always say)."""
    if not FIRST_KERNCIJFERS_YEAR <= year <= LAST_PLAUSIBLE_YEAR:
        raise ValueError(
            f"year {year} is outside {FIRST_KERNCIJFERS_YEAR}-{LAST_PLAUSIBLE_YEAR}"
        )
    if len(text) > MAX_KERNCIJFERS_BYTES or (
        4 * len(text) > MAX_KERNCIJFERS_BYTES
        and len(text.encode("utf-8")) > MAX_KERNCIJFERS_BYTES
    ):
        raise FileTooLarge(f"the file is over {MAX_KERNCIJFERS_BYTES} bytes")
    if _looks_binary(text):
        raise MalformedFile("the file has binary content, not CSV text")
    text = text.removeprefix("\ufeff")
    skipped = 0
    if text[:4].lower() == "sep=":  # a spreadsheet hint line before the header
        text = text[len(_first_line(text)):]
        skipped = 1
    header_line = _first_line(text).rstrip("\r\n")
    if not header_line.strip():
        raise MalformedFile("the file is empty or starts with a blank line")
    delimiter, layout = _read_header(header_line)
    try:
        records = list(_records(text, delimiter, skipped))
    except csv.Error as exc:
        raise MalformedFile(f"the file is not valid CSV: {exc}") from exc
    decimal_mark = _decimal_mark(records, layout)
    result = ParseResult(year=year, delimiter=delimiter, columns=layout.source_headers,
                         layout=layout.kind, decimal_mark=decimal_mark)
    seen: dict[str, int] = {}
    for line, values in records:
        _take_row(result, layout, line, values, seen)
    if not result.rows and not result.rejected:
        raise MalformedFile("the file has a header but no data rows")
    return result




@dataclass(frozen=True, slots=True)
class _Layout:
    kind: str
    width: int
    code_index: int
    label_index: int | None  # WijkenEnBuurten or regio, when it is not the code column
    municipality_index: int | None
    region_type_index: int | None
    stat_indexes: dict[StatName, tuple[int, CbsUnit]]
    source_headers: dict[StatName, str]


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    if "\x00" in sample:
        return True
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    return controls > len(sample) // 100


def _first_line(text: str) -> str:
    """The first line with its ending, whichever of \\n, \\r\\n or \\r ends it."""
    return io.StringIO(text, newline="").readline()


def _column_key(header: str) -> str:
    return _KEY_SUFFIX.sub("", header.strip().strip('"').strip()).casefold()


def _kwb_key(header: str) -> str:
    return header.strip().strip('"').strip().casefold()


def _read_header(header_line: str) -> tuple[str, _Layout]:
    by_count = sorted(_DELIMITERS, key=header_line.count, reverse=True)
    for delimiter in by_count:
        try:
            headers = next(csv.reader([header_line], delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            raise MalformedFile(f"the header is not valid CSV: {exc}") from exc
        kwb_keys = [_kwb_key(h) for h in headers]
        if any(k in kwb_keys for k in _KWB_CODE_KEYS):
            return delimiter, _kwb_layout(headers, kwb_keys)
        keys = [_column_key(h) for h in headers]
        if any(k in keys for k in _CODE_KEYS):
            return delimiter, _statline_layout(headers, keys)
    raise MalformedFile(
        "no area code column: expected gwb_code_10 (a kwb file from cbs.nl), or "
        "Codering_<n> or WijkenEnBuurten (StatLine) in the header"
    )


def _stat_columns(headers: list[str], keys: list[str], columns: tuple[CbsColumn, ...]
                  ) -> tuple[dict[StatName, tuple[int, CbsUnit]], dict[StatName, str]]:
    stat_indexes: dict[StatName, tuple[int, CbsUnit]] = {}
    source_headers: dict[StatName, str] = {}
    for column in columns:
        positions = [i for i, k in enumerate(keys) if k == column.key.casefold()]
        if len(positions) > 1:
            raise MalformedFile(f"column {column.key} appears {len(positions)} times")
        if positions and column.stat in stat_indexes:
            raise MalformedFile(f"columns {source_headers[column.stat]} and "
                                f"{headers[positions[0]].strip()} both hold {column.stat}")
        if positions:
            stat_indexes[column.stat] = (positions[0], column.unit)
            source_headers[column.stat] = headers[positions[0]].strip()
    if not stat_indexes:
        expected = ", ".join(c.key for c in columns[:3])
        raise MalformedFile(f"no Kerncijfers statistic columns (such as {expected})")
    return stat_indexes, source_headers


def _statline_layout(headers: list[str], keys: list[str]) -> _Layout:
    def index_of(key: str) -> int | None:
        return keys.index(key) if key in keys else None

    code_index = next(i for k in _CODE_KEYS if (i := index_of(k)) is not None)
    label_index = index_of("wijkenenbuurten")
    stat_indexes, source_headers = _stat_columns(headers, keys, CBS_COLUMNS)
    return _Layout(
        kind="statline",
        width=len(headers),
        code_index=code_index,
        label_index=None if label_index == code_index else label_index,
        municipality_index=index_of("gemeentenaam"),
        region_type_index=index_of("soortregio"),
        stat_indexes=stat_indexes,
        source_headers=source_headers,
    )


def _kwb_layout(headers: list[str], keys: list[str]) -> _Layout:
    def index_of(key: str) -> int | None:
        return keys.index(key) if key in keys else None

    code_index = next(i for k in _KWB_CODE_KEYS if (i := index_of(k)) is not None)
    stat_indexes, source_headers = _stat_columns(headers, keys, KWB_COLUMNS)
    return _Layout(
        kind="kwb",
        width=len(headers),
        code_index=code_index,
        label_index=index_of("regio"),
        municipality_index=index_of("gm_naam"),
        region_type_index=index_of("recs"),
        stat_indexes=stat_indexes,
        source_headers=source_headers,
    )


def _records(text: str, delimiter: str, skipped: int) -> Iterator[tuple[int, list[str]]]:
    # strict: a quote never closed is an error, not a field that swallows the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader)  # the header, already read
    for values in reader:
        if any(v.strip() for v in values):
            yield reader.line_num + skipped, values


def _decimal_mark(records: list[tuple[int, list[str]]], layout: _Layout) -> str | None:
    """The decimal mark the figures of the file show, or None where they do not agree or say.

    `2,14` or `1.234,5` show a decimal comma, `33.4` a decimal point; `1.000` shows nothing.
    """
    seen: set[str] = set()
    indexes = [i for i, _ in layout.stat_indexes.values()]
    for _, values in records:
        for i in indexes:
            if i >= len(values):
                continue
            value = values[i].strip().removeprefix("-")
            if not NUMBER_SHAPE.fullmatch(value):
                continue
            if "," in value and "." in value:
                seen.add("," if value.rfind(",") > value.rfind(".") else ".")
            elif value.count(",") + value.count(".") == 1:
                mark = "," if "," in value else "."
                if len(value) - value.index(mark) - 1 != 3:
                    seen.add(mark)
            elif value.count(",") > 1:
                seen.add(".")
            elif value.count(".") > 1:
                seen.add(",")
        if len(seen) > 1:
            return None
    return next(iter(seen)) if seen else None


def _take_row(
    result: ParseResult, layout: _Layout, line: int, values: list[str], seen: dict[str, int]
) -> None:
    while len(values) > layout.width and not values[-1].strip():
        values = values[:-1]  # trailing delimiters
    raw_code = values[layout.code_index].strip() if layout.code_index < len(values) else ""
    code = raw_code or None
    if len(values) != layout.width:
        reason = f"expected {layout.width} fields, found {len(values)}"
        result.rejected.append(RejectedRow(line, code, [reason]))
        return
    reasons: list[str] = []
    area: AreaCode | None = None
    try:
        area = parse_area_code(raw_code)
    except InvalidAreaCode as exc:
        reasons.append("missing area code" if not raw_code else f"area code: {exc.reason}")
    if area is not None and not area.is_cbs:
        reasons.append(f"{raw_code!r} is a programme area id, not a CBS area code")
    if area is not None and layout.region_type_index is not None:
        column = "recs" if layout.kind == "kwb" else "SoortRegio"
        region_type = values[layout.region_type_index].strip()
        stated = _REGION_TYPES.get(region_type.casefold())
        if stated is None:
            reasons.append(f"{column} {region_type!r} is not Land, Gemeente, Wijk or Buurt")
        elif stated is not area.level:
            reasons.append(f"{column} says {region_type} but {raw_code} is a {area.level} code")
    stats = _read_stats(layout, values, reasons, result.decimal_mark)
    if code is not None and code in seen:
        reasons.append(f"duplicate area code (first on line {seen[code]})")
    if reasons or area is None or code is None:
        result.rejected.append(RejectedRow(line, code, reasons))
        return
    seen[code] = line
    level = area.level
    municipality = _text(values, layout.municipality_index)
    label = _text(values, layout.label_index)
    name = label if label is not None and label != code else None
    if name is None and level is AreaLevel.GEMEENTE:
        name = municipality
    result.rows.append(
        AreaStatisticsRow(
            code=code,
            level=level,
            name=name,
            municipality_name=municipality,
            parent_code=area.parent.code if area.parent is not None else None,
            year=result.year,
            stats=stats,
            line=line,
        )
    )


def _text(values: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    return values[index].strip() or None


def _read_stats(layout: _Layout, values: list[str], reasons: list[str],
                decimal_mark: str | None) -> AreaStats:
    stats = empty_stats()
    corporation_pct: Decimal | None = None
    for stat, (index, unit) in layout.stat_indexes.items():
        header = layout.source_headers[stat]
        raw = values[index]
        if unit is not CbsUnit.PERCENT and looks_like_thousands(raw, decimal_mark):
            reasons.append(f"{header}: {raw.strip()!r} is ambiguous: three decimals on a whole "
                           f"figure look like a thousands separator")
            continue
        try:
            number = parse_cbs_number(raw, decimal_mark)
        except ValueError as exc:
            reasons.append(f"{header}: {exc}")
            continue
        if number is None:
            continue
        if number < 0:
            reasons.append(f"{header}: negative value {number}")
        elif unit is CbsUnit.COUNT:
            if number != number.to_integral_value():
                reasons.append(f"{header}: {number} is not a whole number")
            else:
                stats[stat] = int(number)
        elif unit is CbsUnit.PERCENT:
            if number > 100:
                reasons.append(f"{header}: {number} is over 100 percent")
            else:
                stats[stat] = float(number)
                if stat is StatName.CORPORATION_DWELLINGS_PCT:
                    corporation_pct = number
        else:
            stats[stat] = int((number * 1000).to_integral_value(ROUND_HALF_UP))
    dwellings = stats[StatName.DWELLINGS]
    if corporation_pct is not None and dwellings is not None:
        share = corporation_pct * int(dwellings) / 100
        stats[StatName.CORPORATION_DWELLINGS] = int(share.to_integral_value(ROUND_HALF_UP))
    return stats
