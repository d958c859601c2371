"""The Kerncijfers CSV reader.

The fixtures under `data/` follow the CBS column layout, but every figure and every wijk or
buurt name in them is invented for these tests; only municipality names and codes are real.

- kerncijfers_2020_vlaardingen.csv: `;`, every field quoted, names in WijkenEnBuurten, padded
  codes in Codering_3, decimal commas, special values, and rows on lines 10-16 to reject.
- kerncijfers_2023_nieuwegein_comma.csv: `,`, codes in WijkenEnBuurten, no Codering_3,
  decimal points, the column suffixes of a later table.
- not_kerncijfers.csv: a CSV that is not this layout.
- kwb-2023-utrecht.csv: the file cbs.nl offers for download (short column codes, `;`, decimal
  commas, `.` for unknown or secret), every figure and wijk or buurt name invented.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.indicators.cbs_cells import StatName, empty_stats, parse_cbs_number
from services.indicators.cbs_csv import (
    MAX_KERNCIJFERS_BYTES,
    FileTooLarge,
    KerncijfersImportError,
    MalformedFile,
    decode_kerncijfers,
    parse_kerncijfers,
)
from shared.areacodes import AreaLevel

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def vlaardingen():
    return parse_kerncijfers(read("kerncijfers_2020_vlaardingen.csv"), year=2020)


def by_code(result):
    return {row.code: row for row in result.rows}


def test_accepts_the_good_rows_of_every_level(vlaardingen):
    rows = by_code(vlaardingen)
    assert list(rows) == [
        "NL00", "GM0622", "WK062201", "BU06220101", "BU06220102", "WK0622WE", "BU0622WE01",
        "BU0622WE02",
    ]
    assert vlaardingen.delimiter == ";"
    assert [rows[c].level for c in ("NL00", "GM0622", "WK062201", "BU06220101")] == [
        AreaLevel.NATIONAL, AreaLevel.GEMEENTE, AreaLevel.WIJK, AreaLevel.BUURT,
    ]
    assert all(row.year == 2020 for row in vlaardingen.rows)


def test_names_parents_and_municipality(vlaardingen):
    rows = by_code(vlaardingen)
    buurt = rows["BU0622WE01"]
    assert buurt.name == "Westwijk-Oost"
    assert buurt.municipality_name == "Vlaardingen"
    assert buurt.parent_code == "WK0622WE"
    assert rows["WK0622WE"].parent_code == "GM0622"
    assert rows["GM0622"].parent_code == "NL00"
    assert rows["NL00"].parent_code is None
    assert rows["NL00"].name == "Nederland"
    assert buurt.line == 8


def test_statistics_are_mapped_by_column_prefix_with_units(vlaardingen):
    stats = by_code(vlaardingen)["BU06220101"].stats
    assert stats == {
        StatName.INHABITANTS: 4215,
        StatName.HOUSEHOLDS: 2475,
        StatName.DWELLINGS: 2560,
        StatName.CORPORATION_DWELLINGS_PCT: 47.1,
        StatName.CORPORATION_DWELLINGS: 1206,  # 47.1% of 2560 = 1205.76
        StatName.MEAN_WOZ_VALUE: 179_000,  # CBS: thousands of euros
        StatName.LOW_INCOME_HOUSEHOLDS_PCT: 15.0,
        StatName.BIJSTAND_RECIPIENTS: 335,
        StatName.AO_RECIPIENTS: 290,
        StatName.WW_RECIPIENTS: 75,
        StatName.LABOUR_PARTICIPATION_PCT: 60.2,
        StatName.YOUTH_CARE_PCT: 12.9,
    }
    assert isinstance(stats[StatName.INHABITANTS], int)
    assert stats["inhabitants"] == 4215  # StatName is a str enum: camelCase keys work too


def test_special_values_dots_and_empty_cells_are_unknown_not_zero(vlaardingen):
    rows = by_code(vlaardingen)
    centrum_zuid = rows["BU06220102"].stats
    assert centrum_zuid[StatName.BIJSTAND_RECIPIENTS] is None  # -99997
    assert centrum_zuid[StatName.YOUTH_CARE_PCT] is None  # "."
    assert centrum_zuid[StatName.MEAN_WOZ_VALUE] is None  # empty
    assert centrum_zuid[StatName.INHABITANTS] == 4890
    assert rows["BU0622WE01"].stats[StatName.LOW_INCOME_HOUSEHOLDS_PCT] is None  # -99995
    industrial = rows["BU0622WE02"].stats
    assert industrial[StatName.YOUTH_CARE_PCT] is None  # -99991
    assert industrial[StatName.CORPORATION_DWELLINGS] is None  # share is secret
    assert industrial[StatName.INHABITANTS] == 15


def test_bad_rows_are_rejected_with_reasons(vlaardingen):
    rejected = {row.line: row for row in vlaardingen.rejected}
    assert sorted(rejected) == [10, 11, 12, 13, 14, 15, 16]
    assert rejected[10].code == "BU062201A"
    assert "10 characters" in rejected[10].reasons[0]
    assert rejected[11].reasons == ["AantalInwoners_5: negative value -15"]
    assert "uppercase" in rejected[12].reasons[0]
    assert "SoortRegio says Wijk" in rejected[13].reasons[0]
    assert rejected[14].reasons == ["InBezitWoningcorporatie_42: 112.5 is over 100 percent"]
    assert rejected[15].reasons == ["duplicate area code (first on line 5)"]
    assert rejected[16].reasons == ["GemiddeldeWOZWaardeVanWoningen_35: 'abc' is not a number"]


def test_columns_used_and_missing_are_reported(vlaardingen):
    assert vlaardingen.columns[StatName.HOUSEHOLDS] == "HuishoudensTotaal_28"
    assert vlaardingen.missing_stats == ()


def test_comma_separated_export_with_codes_in_wijken_en_buurten():
    result = parse_kerncijfers(read("kerncijfers_2023_nieuwegein_comma.csv"), year=2023)
    assert result.delimiter == ","
    assert result.rejected == []
    rows = by_code(result)
    assert list(rows) == ["GM0356", "WK035601", "BU03560101", "BU03560102"]
    assert rows["GM0356"].name == "Nieuwegein"  # from Gemeentenaam_1
    assert rows["BU03560101"].name is None  # a raw export names no buurten
    assert result.columns[StatName.DWELLINGS] == "Woningvoorraad_38"
    assert rows["BU03560101"].stats[StatName.CORPORATION_DWELLINGS_PCT] == 44.9
    assert rows["BU03560101"].stats[StatName.MEAN_WOZ_VALUE] == 287_000
    assert rows["BU03560102"].stats[StatName.YOUTH_CARE_PCT] is None


def test_missing_columns_leave_statistics_unknown():
    text = "WijkenEnBuurten;SoortRegio_2;AantalInwoners_5\nGM0363    ;Gemeente  ;931298\n"
    result = parse_kerncijfers(text, year=2024)
    (row,) = result.rows
    assert row.stats == {**empty_stats(), StatName.INHABITANTS: 931298}
    assert StatName.HOUSEHOLDS in result.missing_stats
    assert StatName.CORPORATION_DWELLINGS not in result.missing_stats


def test_column_keys_are_matched_whatever_their_case_and_suffix():
    text = "codering_3,aantalinwoners_105,woningvoorraad\nBU03630001,1200,600\n"
    (row,) = parse_kerncijfers(text, year=2024).rows
    assert row.stats[StatName.INHABITANTS] == 1200
    assert row.stats[StatName.DWELLINGS] == 600


def test_tab_separated_with_bom_and_separator_hint():
    text = "\ufeffsep=\t\nCodering_3\tAantalInwoners_5\nGM0014\t238147\n"
    result = parse_kerncijfers(text, year=2024)
    assert result.delimiter == "\t"
    assert result.rows[0].stats[StatName.INHABITANTS] == 238147
    assert result.rows[0].line == 3


def test_a_programme_area_id_is_not_a_cbs_row():
    text = "Codering_3;AantalInwoners_5\nPA-rotterdam-zuid;5\n"
    (rejected,) = parse_kerncijfers(text, year=2024).rejected
    assert "programme area" in rejected.reasons[0]


def test_rows_with_the_wrong_number_of_fields_are_rejected():
    text = "Codering_3;AantalInwoners_5;Woningvoorraad_34\nGM0014;5\nGM0080;10;20;\n"
    result = parse_kerncijfers(text, year=2024)
    assert [r.code for r in result.rows] == ["GM0080"]  # a trailing delimiter is fine
    assert result.rejected[0].reasons == ["expected 3 fields, found 2"]


def test_fractional_counts_are_rejected_but_whole_decimals_accepted():
    text = "Codering_3;AantalInwoners_5\nGM0014;12,5\nGM0080;120,0\n"
    result = parse_kerncijfers(text, year=2024)
    assert result.rows[0].stats[StatName.INHABITANTS] == 120
    assert "not a whole number" in result.rejected[0].reasons[0]


def test_corporation_dwellings_round_half_up():
    text = "Codering_3;Woningvoorraad_34;InBezitWoningcorporatie_42\nGM0014;10;25\n"
    (row,) = parse_kerncijfers(text, year=2024).rows
    assert row.stats[StatName.CORPORATION_DWELLINGS] == 3  # 2.5 rounds up, not to even


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("\n\nCodering_3;AantalInwoners_5\n", "empty"),
        ("Codering_3;AantalInwoners_5\n", "no data rows"),
        ("Codering_3;AantalInwoners_5\n\n\n", "no data rows"),
        ('{"WijkenEnBuurten": "GM0363"}', "no area code column"),
        ("Codering_3;Mannen_6;Vrouwen_7\nGM0363;1;2\n", "no Kerncijfers statistic"),
        ("Codering_3;AantalInwoners_5;AantalInwoners_9\nGM0363;1;2\n", "appears 2 times"),
        ("GM\x00\x01\x02\x03" * 50, "binary"),
        ('Codering_3;AantalInwoners_5\nGM0363;"' + "9" * 200_000 + "\n", "not valid CSV"),
    ],
)
def test_files_that_are_not_this_layout_raise(text, reason):
    with pytest.raises(MalformedFile, match=reason):
        parse_kerncijfers(text, year=2024)


def test_a_file_of_another_kind_raises():
    with pytest.raises(MalformedFile, match="no area code column"):
        parse_kerncijfers(read("not_kerncijfers.csv"), year=2024)


def test_year_must_be_plausible():
    with pytest.raises(ValueError, match="year"):
        parse_kerncijfers("Codering_3;AantalInwoners_5\nGM0014;5\n", year=1900)


def test_size_limit():
    assert MAX_KERNCIJFERS_BYTES == 50 * 1024 * 1024
    with pytest.raises(FileTooLarge):
        decode_kerncijfers(b"x" * (MAX_KERNCIJFERS_BYTES + 1))
    with pytest.raises(FileTooLarge):
        parse_kerncijfers("é" * (MAX_KERNCIJFERS_BYTES // 2 + 1), year=2024)
    assert issubclass(FileTooLarge, KerncijfersImportError)
    assert issubclass(MalformedFile, ValueError)


def test_decode_handles_bom_windows_1252_and_binary():
    assert decode_kerncijfers("\ufeffCodering_3".encode()) == "Codering_3"
    assert decode_kerncijfers("Súdwest-Fryslân".encode("cp1252")) == "Súdwest-Fryslân"
    with pytest.raises(MalformedFile, match="binary"):
        decode_kerncijfers(b"PK\x03\x04\x00\x00")
    with pytest.raises(MalformedFile, match="not text"):
        decode_kerncijfers(b"\x81\x8d\x8f\x90\x9d")


def test_decoded_fixture_parses_the_same():
    raw = (DATA / "kerncijfers_2020_vlaardingen.csv").read_bytes()
    assert parse_kerncijfers(decode_kerncijfers(raw), 2020) == parse_kerncijfers(
        read("kerncijfers_2020_vlaardingen.csv"), 2020
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("47,3", Decimal("47.3")),
        ("47.3", Decimal("47.3")),
        (" 1234 ", Decimal(1234)),
        ("1.234,5", Decimal("1234.5")),
        ("1,234.5", Decimal("1234.5")),
        ("-3", Decimal(-3)),
        ("", None),
        ("   ", None),
        (".", None),
        ("x", None),
        ("-99997", None),
        ("-99995", None),
        ("-99991", None),
        ("-99997,0", None),
    ],
)
def test_parse_cbs_number(raw, expected):
    assert parse_cbs_number(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "1,2,3", "--5", "-"])
def test_parse_cbs_number_refuses_garbage(raw):
    with pytest.raises(ValueError):
        parse_cbs_number(raw)


@given(st.decimals(min_value=0, max_value=10**9, places=1, allow_nan=False))
def test_dutch_and_english_decimals_read_the_same(number):
    english = str(number)
    assert parse_cbs_number(english) == parse_cbs_number(english.replace(".", ",")) == number


@given(st.integers(min_value=0, max_value=10**7), st.sampled_from([";", ","]))
def test_counts_round_trip_through_either_delimiter(count, delimiter):
    text = f"Codering_3{delimiter}AantalInwoners_5\nGM0363    {delimiter}{count}\n"
    (row,) = parse_kerncijfers(text, year=2024).rows
    assert row.code == "GM0363"
    assert row.stats[StatName.INHABITANTS] == count


# Thousands separators: read correctly where the file says which mark is decimal, the row
# rejected where it does not; never `1.000` inhabitants read as 1.


def test_a_dot_thousands_separator_in_a_decimal_comma_file_is_read_as_thousands():
    text = ("Codering_3;AantalInwoners_5;GemiddeldeWOZWaardeVanWoningen_35;"
            "InBezitWoningcorporatie_42\n"
            "GM0014;1.000;1.250;47,1\n"
            "GM0080;12.345.678;250;3,5\n")
    rows = by_code(parse_kerncijfers(text, year=2024))
    assert rows["GM0014"].stats[StatName.INHABITANTS] == 1000
    assert rows["GM0014"].stats[StatName.MEAN_WOZ_VALUE] == 1_250_000  # thousands of euros
    assert rows["GM0080"].stats[StatName.INHABITANTS] == 12_345_678


def test_an_ambiguous_thousands_separator_rejects_the_row():
    text = ("Codering_3;AantalInwoners_5;GemiddeldeWOZWaardeVanWoningen_35\n"
            "GM0014;1.000;300\n"
            "GM0080;800;1.250\n"
            "GM0150;800;250\n")
    result = parse_kerncijfers(text, year=2024)
    assert [r.code for r in result.rows] == ["GM0150"]
    rejected = {r.code: r.reasons for r in result.rejected}
    assert "ambiguous" in rejected["GM0014"][0]
    assert "ambiguous" in rejected["GM0080"][0]


def test_a_comma_thousands_separator_in_a_decimal_point_file_is_read_as_thousands():
    text = ('Codering_3,AantalInwoners_5,InBezitWoningcorporatie_42\n'
            'GM0014,"1,000",47.1\n')
    (row,) = parse_kerncijfers(text, year=2024).rows
    assert row.stats[StatName.INHABITANTS] == 1000


@pytest.mark.parametrize("raw", ["1.00", "10.0000", "1.000.00", "1,000.000.5"])
def test_misplaced_group_separators_are_refused(raw):
    with pytest.raises(ValueError):
        parse_cbs_number(raw, decimal_mark=",")


def test_old_mac_line_endings_are_read():
    text = "Codering_3;AantalInwoners_5\rGM0014;238147\rGM0080;5\r"
    result = parse_kerncijfers(text, year=2024)
    assert [(r.code, r.line) for r in result.rows] == [("GM0014", 2), ("GM0080", 3)]


@pytest.mark.parametrize(
    "text",
    [
        'Codering_3;"AantalInwoners_5\nGM0014;5\n',  # a quote never closed in the header
        "Codering_3;Aantal\x00Inwoners_5\nGM0014;5\n",
        'Codering_3;AantalInwoners_5\r\nGM0014;"5\rGM0080;6',
    ],
)
def test_broken_csv_is_malformed_not_a_crash(text):
    with pytest.raises(KerncijfersImportError):
        parse_kerncijfers(text, year=2024)


def test_the_kwb_download_of_cbs_nl_is_read():
    result = parse_kerncijfers(read("kwb-2023-utrecht.csv"), year=2023)
    assert result.layout == "kwb" and result.delimiter == ";" and result.decimal_mark == ","
    assert result.rejected == []
    rows = by_code(result)
    assert list(rows) == ["NL00", "GM0344", "WK034401", "BU03440101", "BU03440102",
                          "WK034402", "BU03440201", "BU03440202"]
    buurt = rows["BU03440101"]
    assert (buurt.name, buurt.municipality_name, buurt.parent_code) == (
        "Binnenstad-Noord", "Utrecht", "WK034401")
    assert buurt.stats == {
        StatName.INHABITANTS: 1835,
        StatName.HOUSEHOLDS: 1240,
        StatName.DWELLINGS: 1215,
        StatName.CORPORATION_DWELLINGS_PCT: 22.4,
        StatName.CORPORATION_DWELLINGS: 272,  # 22.4% of 1215 = 272.16
        StatName.MEAN_WOZ_VALUE: 412_000,
        StatName.LOW_INCOME_HOUSEHOLDS_PCT: None,  # "."
        StatName.BIJSTAND_RECIPIENTS: 40,
        StatName.AO_RECIPIENTS: 55,
        StatName.WW_RECIPIENTS: 10,
        StatName.LABOUR_PARTICIPATION_PCT: 73.5,
        StatName.YOUTH_CARE_PCT: None,
    }
    assert rows["BU03440202"].stats[StatName.HOUSEHOLDS] == 5
    assert rows["BU03440202"].stats[StatName.MEAN_WOZ_VALUE] is None
    assert result.columns[StatName.MEAN_WOZ_VALUE] == "g_wozbag"
    assert result.missing_stats == ()


def test_kwb_files_of_older_editions_name_the_woz_column_g_woz():
    text = "gwb_code;regio;gm_naam;recs;a_inw;g_woz\nGM0014;Groningen;Groningen;Gemeente;5;213\n"
    result = parse_kerncijfers(text, year=2015)
    (row,) = result.rows
    assert row.name == "Groningen" and row.stats[StatName.MEAN_WOZ_VALUE] == 213_000
    assert result.columns[StatName.MEAN_WOZ_VALUE] == "g_woz"


def test_kwb_rows_whose_recs_contradicts_the_code_are_rejected():
    text = "gwb_code_10;recs;a_inw\nWK001401;Buurt;5\n"
    (rejected,) = parse_kerncijfers(text, year=2023).rejected
    assert rejected.reasons == ["recs says Buurt but WK001401 is a wijk code"]


def test_a_kwb_file_with_both_woz_columns_is_malformed():
    with pytest.raises(MalformedFile, match="both hold"):
        parse_kerncijfers("gwb_code_10;g_woz;g_wozbag\nGM0014;1;2\n", year=2023)


def test_utf16_with_a_bom_is_decoded():
    text = "Codering_3\tAantalInwoners_5\nGM0014\t5\n"
    assert decode_kerncijfers(text.encode("utf-16")) == text
