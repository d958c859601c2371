import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.areacodes import (
    NATIONAL_CODE,
    AreaCode,
    AreaLevel,
    InvalidAreaCode,
    ancestor_codes,
    area_level,
    is_valid_area_code,
    is_valid_buurt_code,
    is_valid_gemeente_code,
    is_valid_programme_area_id,
    is_valid_wijk_code,
    is_within,
    parent_code,
    parent_level,
    parse_area_code,
    programme_area_id,
)

DIGITS = "0123456789"
PART_CHARS = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

gemeente_numbers = st.text(DIGITS, min_size=4, max_size=4)
parts = st.text(PART_CHARS, min_size=2, max_size=2)
gemeente_codes = gemeente_numbers.map(lambda g: f"GM{g}")
wijk_codes = st.builds(lambda g, w: f"WK{g}{w}", gemeente_numbers, parts)
buurt_codes = st.builds(lambda g, w, b: f"BU{g}{w}{b}", gemeente_numbers, parts, parts)
cbs_codes = st.one_of(gemeente_codes, wijk_codes, buurt_codes, st.just(NATIONAL_CODE))


def test_area_level_values_are_kebab_case_wire_names():
    assert [level.value for level in AreaLevel] == [
        "national", "gemeente", "wijk", "buurt", "programme-area",
    ]


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("NL00", AreaLevel.NATIONAL),
        ("GM0363", AreaLevel.GEMEENTE),
        ("WK036301", AreaLevel.WIJK),
        ("WK0363TL", AreaLevel.WIJK),
        ("BU03630001", AreaLevel.BUURT),
        ("BU0363AB01", AreaLevel.BUURT),
        ("BU0363AF0Z", AreaLevel.BUURT),
        ("PA-amsterdam-nieuw-west", AreaLevel.PROGRAMME_AREA),
        ("PA-roosendaal", AreaLevel.PROGRAMME_AREA),
    ],
)
def test_valid_codes_parse_with_their_level(code, level):
    parsed = parse_area_code(code)
    assert parsed == AreaCode(code, level)
    assert str(parsed) == code
    assert area_level(code) is level
    assert is_valid_area_code(code)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "empty"),
        (" GM0363", "whitespace"),
        ("BU03630001  ", "whitespace"),
        ("gm0363", "uppercase"),
        ("Wk036301", "uppercase"),
        ("WK0363tl", "uppercase"),
        ("GM363", "6 characters"),
        ("GM03630", "6 characters"),
        ("WK0363001", "8 characters"),
        ("BU036300010", "10 characters"),
        ("GM03A3", "4 digits"),
        ("WK03A301", "4 digits"),
        ("BU0363-001", "digits or capital letters"),
        ("NL", "NL00"),
        ("NL01", "NL00"),
        ("XX0363", "unknown prefix"),
        ("0363", "unknown prefix"),
        ("PA-", "programme area id"),
        ("PA-Amsterdam", "programme area id"),
        ("PA-amsterdam--west", "programme area id"),
        ("PA-amsterdam-", "programme area id"),
        ("PA-" + "a" * 62, "programme area id"),
    ],
)
def test_malformed_codes_raise_a_value_error_with_a_reason(code, reason):
    with pytest.raises(InvalidAreaCode) as caught:
        parse_area_code(code)
    assert isinstance(caught.value, ValueError)
    assert reason in caught.value.reason
    assert caught.value.code == code
    assert not is_valid_area_code(code)


def test_parent_codes_follow_the_cbs_hierarchy():
    assert parent_code("BU0363AB01") == "WK0363AB"
    assert parent_code("BU03630001") == "WK036300"
    assert parent_code("WK0363TL") == "GM0363"
    assert parent_code("GM0363") == NATIONAL_CODE
    assert parent_code(NATIONAL_CODE) is None
    assert parent_code("PA-amsterdam-zuidoost") is None
    assert ancestor_codes("BU0363AB01") == ("WK0363AB", "GM0363", NATIONAL_CODE)
    assert ancestor_codes(NATIONAL_CODE) == ()


def test_parent_code_rejects_malformed_codes():
    with pytest.raises(InvalidAreaCode):
        parent_code("BU0363AB0")


def test_gemeente_and_wijk_of_a_code():
    buurt = parse_area_code("BU0599CK12")
    assert buurt.gemeente_code == "GM0599"
    assert buurt.wijk_code == "WK0599CK"
    assert parse_area_code("GM0599").wijk_code is None
    assert parse_area_code(NATIONAL_CODE).gemeente_code is None
    assert not parse_area_code("PA-rotterdam-zuid").is_cbs


def test_area_code_rejects_a_level_that_does_not_match():
    with pytest.raises(InvalidAreaCode):
        AreaCode("GM0363", AreaLevel.WIJK)


def test_is_within():
    assert is_within("BU0363AB01", "GM0363")
    assert is_within("BU0363AB01", NATIONAL_CODE)
    assert is_within("GM0363", "GM0363")
    assert not is_within("BU0363AB01", "GM0599")
    assert not is_within("GM0363", "BU0363AB01")


def test_parent_level():
    assert parent_level(AreaLevel.BUURT) is AreaLevel.WIJK
    assert parent_level(AreaLevel.GEMEENTE) is AreaLevel.NATIONAL
    assert parent_level(AreaLevel.NATIONAL) is None
    assert parent_level(AreaLevel.PROGRAMME_AREA) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Amsterdam Nieuw-West", "PA-amsterdam-nieuw-west"),
        ("Den Haag Zuidwest", "PA-den-haag-zuidwest"),
        ("Rotterdam-Zuid", "PA-rotterdam-zuid"),
        ("  Súdwest-Fryslân  ", "PA-sudwest-fryslan"),
        ("'s-Hertogenbosch (Noord)", "PA-s-hertogenbosch-noord"),
    ],
)
def test_programme_area_id_is_a_kebab_slug(name, expected):
    assert programme_area_id(name) == expected
    assert is_valid_programme_area_id(expected)


@pytest.mark.parametrize("name", ["", " - ", "☃", "x" * 62])
def test_programme_area_id_refuses_unusable_names(name):
    with pytest.raises(ValueError):
        programme_area_id(name)


@given(buurt_codes)
def test_buurt_parent_chain_is_consistent(code):
    wijk = parent_code(code)
    assert wijk is not None and is_valid_wijk_code(wijk)
    assert code[2:8] == wijk[2:]
    gemeente = parent_code(wijk)
    assert gemeente is not None and is_valid_gemeente_code(gemeente)
    assert gemeente[2:] == code[2:6]
    assert parent_code(gemeente) == NATIONAL_CODE
    assert ancestor_codes(code) == (wijk, gemeente, NATIONAL_CODE)
    assert parse_area_code(code).gemeente_code == gemeente


@given(cbs_codes)
def test_every_parent_is_one_level_up(code):
    area = parse_area_code(code)
    parent = area.parent
    if parent is None:
        assert area.level is AreaLevel.NATIONAL
    else:
        assert parent.level is parent_level(area.level)
        assert parse_area_code(parent.code) == parent
        assert is_within(code, parent.code)


@given(cbs_codes.filter(lambda c: c != NATIONAL_CODE), st.sampled_from([-1, 1]))
def test_a_character_more_or_less_is_rejected(code, delta):
    changed = code[:-1] if delta < 0 else code + "0"
    assert not is_valid_area_code(changed)


@given(cbs_codes.filter(lambda c: any(ch.isalpha() for ch in c[2:])))
def test_lowercase_cbs_codes_are_rejected(code):
    assert not is_valid_area_code(code.lower())


@given(buurt_codes)
def test_validators_agree_with_the_parser(code):
    assert is_valid_buurt_code(code)
    assert not is_valid_wijk_code(code)
    assert not is_valid_gemeente_code(code)
    assert area_level(code) is AreaLevel.BUURT


@given(st.text(min_size=1, max_size=40))
def test_programme_area_ids_from_any_name_are_valid_or_refused(name):
    try:
        area_id = programme_area_id(name)
    except ValueError:
        return
    assert is_valid_programme_area_id(area_id)
    assert area_level(area_id) is AreaLevel.PROGRAMME_AREA
