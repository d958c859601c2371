import base64
import json
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.signals.accesslog.chain import (
    GENESIS_HASH,
    AccessLogEntry,
    AccessOutcome,
    ChainPosition,
    canonical_json,
    chain_hash,
    link,
    verify_chain,
)
from services.signals.addresses import (
    CorporationUnit,
    DutchAddress,
    InvalidAddress,
    household_key,
    normalise_house_letter,
    normalise_house_number,
    normalise_house_number_addition,
    normalise_postcode,
)
from services.signals.crypto.fields import (
    DecryptionFailed,
    FieldCipher,
    MalformedToken,
    UnknownKeyId,
)
from services.signals.crypto.material import (
    KeyMaterialError,
    generate_key,
    parse_key,
    parse_keyring,
)
from services.signals.crypto.pseudonyms import Pseudonymiser, PseudonymPurpose

K1, K2, K3 = (bytes([i]) * 32 for i in (1, 2, 3))


def pseudonymiser(op=K1, stats=K2):
    return Pseudonymiser(operational_key=op, statistics_key=stats)


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234 AB", "1234AB"),
        ("1234ab", "1234AB"),
        (" 1234\u00a0a b ", "1234AB"),
        ("9999ZZ", "9999ZZ"),
    ],
)
def test_postcode_normalisation(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "0123AB",
        "123AB",
        "12345AB",
        "1234A",
        "1234-AB",
        "1234SA",
        "1234 sd",
        "1234ss",
        "",
        "1234\ufb00",
    ],
)
def test_invalid_postcodes(raw):
    with pytest.raises(InvalidAddress) as info:
        normalise_postcode(raw)
    assert info.value.field == "postcode"
    assert raw.strip() == "" or raw not in str(info.value)  # never echo personal data


def test_house_number_letter_and_addition():
    assert normalise_house_number(1) == 1
    assert normalise_house_number(" 99999 ") == 99999
    for bad in (0, 100_000, -1, True, "12a", "", "١٢"):
        with pytest.raises(InvalidAddress):
            normalise_house_number(bad)
    assert normalise_house_letter("a") == "A"
    assert normalise_house_letter(" ") is None
    assert normalise_house_letter(None) is None
    for bad in ("ab", "1", "é"):
        with pytest.raises(InvalidAddress):
            normalise_house_letter(bad)
    assert normalise_house_number_addition(" bis ") == "BIS"
    assert normalise_house_number_addition("2h") == "2H"
    assert normalise_house_number_addition("") is None
    for bad in ("abcde", "1-2", "ü"):
        with pytest.raises(InvalidAddress):
            normalise_house_number_addition(bad)


def test_address_model_collects_every_invalid_field_with_camel_case_names():
    with pytest.raises(ValidationError) as info:
        DutchAddress.model_validate({"postcode": "12", "houseNumber": 0, "houseLetter": "xy"})
    assert {e["loc"][0] for e in info.value.errors()} == {"postcode", "houseNumber", "houseLetter"}


def test_household_key_forms():
    address = DutchAddress(postcode="1234 ab", house_number=12, house_letter="a")
    assert household_key(address) == "address:1234AB:12:A:"
    with_addition = DutchAddress(postcode="1234AB", house_number=12, house_number_addition="a")
    assert household_key(with_addition) == "address:1234AB:12::A"
    unit = CorporationUnit(organisation="demo-corp-a", unit_ref=" VHE-0001 ")
    assert household_key(unit) == "unit:demo-corp-a:VHE-0001"


def test_same_unit_ref_in_two_corporations_is_two_households():
    a = household_key(CorporationUnit(organisation="demo-corp-a", unit_ref="42"))
    b = household_key(CorporationUnit(organisation="demo-corp-b", unit_ref="42"))
    assert a != b
    assert pseudonymiser().operational(a) != pseudonymiser().operational(b)


def test_unit_ref_and_organisation_are_validated():
    for bad in ("", "   ", "x" * 65, "a\nb"):
        with pytest.raises(ValidationError):
            CorporationUnit(organisation="demo-corp-a", unit_ref=bad)
    with pytest.raises(ValidationError):
        CorporationUnit(organisation="Demo Corp", unit_ref="1")


postcodes = st.builds(
    lambda d, letters: f"{d}{letters}",
    st.integers(1000, 9999),
    st.text(string.ascii_uppercase, min_size=2, max_size=2).filter(
        lambda s: s not in {"SA", "SD", "SS"}
    ),
)


def reformat(draw, postcode):
    """Random case per character and random spaces anywhere."""
    out = []
    for ch in postcode:
        out.append(draw(st.sampled_from([" ", "", "  ", "\t"])))
        out.append(ch.lower() if draw(st.booleans()) else ch)
    return "".join(out) + draw(st.sampled_from(["", " "]))


@given(st.data(), postcodes, st.integers(1, 99_999), st.sampled_from(["", "a", "B"]))
def test_pseudonym_is_stable_under_formatting(data, postcode, number, letter):
    messy = reformat(data.draw, postcode)
    clean = DutchAddress(postcode=postcode, house_number=number, house_letter=letter or None)
    dirty = DutchAddress(postcode=messy, house_number=str(number), house_letter=f" {letter} ")
    assert household_key(clean) == household_key(dirty)
    p = pseudonymiser()
    assert p.operational(household_key(clean)) == p.operational(household_key(dirty))


# --------------------------------------------------------------------------- pseudonyms


@given(st.text(min_size=1), st.binary(min_size=32, max_size=32))
def test_different_keys_and_purposes_give_different_pseudonyms(household, other_key):
    p = pseudonymiser()
    op, stats = p.operational(household), p.statistics(household)
    assert op != stats
    assert len(op) == 64 and set(op) <= set(string.hexdigits.lower())
    if other_key not in (K1, K2):
        assert pseudonymiser(op=other_key).operational(household) != op


def test_pseudonyms_are_deterministic_and_distinct_per_household():
    p = pseudonymiser()
    assert p.pseudonym(PseudonymPurpose.STATISTICS, "x") == pseudonymiser().statistics("x")
    assert p.operational("address:1234AB:1::") != p.operational("address:1234AB:2::")


def test_pseudonymiser_rejects_bad_keys():
    with pytest.raises(KeyMaterialError, match="must differ"):
        pseudonymiser(op=K1, stats=K1)
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        pseudonymiser(op=b"short")
    p = Pseudonymiser.from_settings(operational_key=generate_key(), statistics_key=generate_key())
    assert len(p.statistics("x")) == 64


# --------------------------------------------------------------------------- key material


def test_generate_and_parse_key():
    key = generate_key()
    assert "=" not in key and len(parse_key(key)) == 32
    padded = base64.urlsafe_b64encode(K1).decode()
    assert parse_key(f"  {padded}\n") == K1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (base64.urlsafe_b64encode(b"x" * 16).decode(), "too short: 16 bytes"),
        (base64.urlsafe_b64encode(b"x" * 48).decode(), "too long"),
        ("", "too short: 0 bytes"),
        ("not base64!", "not valid base64url"),
    ],
)
def test_parse_key_errors_are_clear(value, message):
    with pytest.raises(KeyMaterialError, match=message) as info:
        parse_key(value, name="DDK_SIGNALS_FIELD_KEY")
    assert "DDK_SIGNALS_FIELD_KEY" in str(info.value)


def test_parse_keyring():
    a, b = generate_key(), generate_key()
    ring = parse_keyring(f"2025a:{a}, 2024b:{b},")
    assert list(ring) == ["2025a", "2024b"] and ring["2025a"] == parse_key(a)
    for bad in ("", "nokey", f"a.b:{a}", f"x:{a},x:{b}"):
        with pytest.raises(KeyMaterialError):
            parse_keyring(bad)


# --------------------------------------------------------------------------- field cipher


def cipher(active="k1", **extra):
    return FieldCipher({"k1": K1, "k2": K2, **extra}, active)


@settings(max_examples=60)
@given(st.text(), st.text(min_size=1, max_size=40), st.sampled_from(["note", "contact"]))
def test_encrypt_decrypt_roundtrip(plaintext, record_id, field):
    c = cipher()
    token = c.encrypt(plaintext, record_id=record_id, field=field)
    assert token.startswith("v1.k1.")
    assert c.decrypt(token, record_id=record_id, field=field) == plaintext


def test_same_plaintext_encrypts_differently():
    c = cipher()
    assert c.encrypt("x", record_id="r", field="note") != c.encrypt(
        "x", record_id="r", field="note"
    )


@settings(max_examples=60)
@given(st.data())
def test_any_tampering_is_detected(data):
    c = cipher()
    token = c.encrypt("Mevrouw lijkt verward", record_id="r1", field="note")
    raw = bytearray(base64.urlsafe_b64decode(token.split(".")[2] + "=="))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    forged = "v1.k1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionFailed):
        c.decrypt(forged, record_id="r1", field="note")


def test_ciphertext_is_bound_to_record_and_field():
    c = cipher()
    token = c.encrypt("06-12345678", record_id="r1", field="contact")
    for record_id, field in (("r2", "contact"), ("r1", "note"), ("r", "1contact")):
        with pytest.raises(DecryptionFailed):
            c.decrypt(token, record_id=record_id, field=field)


def test_key_rotation():
    old = cipher(active="k1")
    token = old.encrypt("geheim", record_id="r", field="note")
    new = cipher(active="k2")
    assert new.needs_rotation(token) and not old.needs_rotation(token)
    assert new.decrypt(token, record_id="r", field="note") == "geheim"
    rotated = new.rotate(token, record_id="r", field="note")
    assert new.key_id_of(rotated) == "k2" and not new.needs_rotation(rotated)
    assert new.rotate(rotated, record_id="r", field="note") == rotated
    assert new.decrypt(rotated, record_id="r", field="note") == "geheim"
    # A key swapped into the header does not decrypt.
    with pytest.raises(DecryptionFailed):
        new.decrypt(token.replace("v1.k1.", "v1.k2."), record_id="r", field="note")


def test_unknown_key_id():
    token = cipher(k3=K3, active="k3").encrypt("x", record_id="r", field="note")
    with pytest.raises(UnknownKeyId, match="'k3'"):
        cipher().decrypt(token, record_id="r", field="note")


@pytest.mark.parametrize(
    "token", ["", "v2.k1.AAAA", "v1..AAAA", "v1.k1.", "v1.k1.AAAA", "v1.k1.***"]
)
def test_malformed_tokens(token):
    with pytest.raises(MalformedToken):
        cipher().decrypt(token, record_id="r", field="note")


def test_cipher_configuration_errors():
    with pytest.raises(KeyMaterialError, match="not in the keyring"):
        FieldCipher({"k1": K1}, "k2")
    with pytest.raises(KeyMaterialError):
        FieldCipher({"k1": b"short"}, "k1")
    with pytest.raises(KeyMaterialError):
        FieldCipher({"k.1": K1}, "k.1")
    c = FieldCipher.from_settings(keyring=f"a:{generate_key()}", active_key_id="a")
    assert c.active_key_id == "a"


# --------------------------------------------------------------------------- access log

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


LOG_KEY = bytes([7]) * 32


def entry(i=0, **overrides):
    fields = {
        "sequence": i + 1,
        "subject": f"user-{i}",
        "organisation": "demo-municipality",
        "role": "debt-help-worker",
        "purpose": "vroegsignalering-schulden",
        "record_type": "signal",
        "record_id": f"sig-{i}",
        "controller": "demo-corp-a",
        "fields": ("contact", "address"),
        "at": T0 + timedelta(minutes=i),
    }
    return AccessLogEntry(**(fields | overrides))


def build_chain(n, key=LOG_KEY):
    entries, head = [], GENESIS_HASH
    for i in range(n):
        entries.append(link(key, head, entry(i)))
        head = entries[-1].entry_hash
    return entries, head


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_chain_hash_is_an_hmac_over_every_field():
    import hashlib
    import hmac

    e = entry()
    expected_input = (
        b"ddk-access-log-v2\x00" + GENESIS_HASH.encode()
        + json.dumps(
            e.chain_fields(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert chain_hash(LOG_KEY, GENESIS_HASH, e.chain_fields()) == hmac.new(
        LOG_KEY, expected_input, hashlib.sha256).hexdigest()
    assert e.chain_fields() == {
        "sequence": 1,
        "subject": "user-0",
        "organisation": "demo-municipality",
        "role": "debt-help-worker",
        "purpose": "vroegsignalering-schulden",
        "recordType": "signal",
        "recordId": "sig-0",
        "controller": "demo-corp-a",
        "outcome": "granted",
        "fields": ["address", "contact"],
        "at": "2025-03-01T09:30:00.000000Z",
    }
    assert set(e.chain_fields()) == {
        AccessLogEntry.model_fields[n].alias or n for n in AccessLogEntry.model_fields}
    with pytest.raises(ValueError, match="64 lower-case hex"):
        chain_hash(LOG_KEY, "abc", {})


def test_entry_time_is_utc_and_must_be_aware():
    local = entry(at=datetime(2025, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))))
    assert local.chain_fields()["at"] == "2025-03-01T09:30:00.000000Z"
    with pytest.raises(ValidationError):
        entry(at=datetime(2025, 3, 1, 9, 30))


def test_valid_chain_verifies():
    entries, head = build_chain(5)
    result = verify_chain(entries, key=LOG_KEY)
    assert (result.ok, result.checked, result.first_bad_index, result.head) == (True, 5, None, head)
    assert verify_chain([], key=LOG_KEY).ok
    assert verify_chain(entries[2:], key=LOG_KEY,
                        start=ChainPosition(2, entries[1].entry_hash)).ok
    assert verify_chain(entries, key=LOG_KEY,
                        checkpoint=ChainPosition(4, entries[3].entry_hash)).ok


@given(st.integers(0, 4), st.sampled_from(
    ["subject", "purpose", "record_id", "role", "controller", "organisation"]))
def test_altered_entry_is_found(index, field_name):
    entries, _ = build_chain(5)
    entries[index] = entries[index].model_copy(update={field_name: "someone-else"})
    result = verify_chain(entries, key=LOG_KEY)
    assert not result.ok and result.first_bad_index == index and result.checked == index
    assert "altered" in (result.reason or "")


def test_altered_time_fields_or_outcome_is_found():
    for change in ({"at": T0 + timedelta(days=1)}, {"fields": ("address",)},
                   {"outcome": AccessOutcome.REFUSED}):
        entries, _ = build_chain(3)
        entries[1] = entries[1].model_copy(update=change)
        assert verify_chain(entries, key=LOG_KEY).first_bad_index == 1


def test_deleted_inserted_or_reordered_entries_are_found():
    entries, _ = build_chain(5)
    deleted = entries[:2] + entries[3:]
    assert verify_chain(deleted, key=LOG_KEY).first_bad_index == 2
    reordered = [entries[0], entries[2], entries[1], *entries[3:]]
    assert verify_chain(reordered, key=LOG_KEY).first_bad_index == 1
    # A forgery linked in with the key still breaks the next link.
    forged = link(LOG_KEY, entries[1].entry_hash, entry(2, subject="someone-else"))
    inserted = [*entries[:2], forged, *entries[2:]]
    result = verify_chain(inserted, key=LOG_KEY)
    assert result.first_bad_index == 3 and "removed, inserted or reordered" in (result.reason or "")


def test_a_chain_rebuilt_with_another_key_is_found():
    entries, _ = build_chain(5)
    forged, _ = build_chain(5, key=bytes([8]) * 32)
    result = verify_chain(entries[:2] + forged[2:], key=LOG_KEY)
    assert result.first_bad_index == 2
    assert verify_chain(forged, key=LOG_KEY).first_bad_index == 0


def test_truncated_tail_is_found_only_with_a_checkpoint():
    entries, head = build_chain(5)
    assert verify_chain(entries[:3], key=LOG_KEY).ok  # the limit of a bare chain
    result = verify_chain(entries[:3], key=LOG_KEY, checkpoint=ChainPosition(5, head))
    assert not result.ok and result.first_bad_index == 3 and result.checked == 3
    assert "ends before the latest checkpoint" in (result.reason or "")
    # Even re-linked with the key, another entry where the checkpoint's stood is found.
    other = link(LOG_KEY, entries[2].entry_hash, entry(3, purpose="audit"))
    rewritten = verify_chain(entries[:3] + [other], key=LOG_KEY,
                             checkpoint=ChainPosition(4, entries[3].entry_hash))
    assert not rewritten.ok and rewritten.first_bad_index == 3
