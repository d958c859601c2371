"""Dutch by default, English on request: negotiation, headers, problem texts, catalogues."""

from __future__ import annotations

import string
import time
import tomllib
from collections.abc import MutableMapping
from typing import Any

import pytest

from shared import i18n
from shared.tests import problem_texts
from shared.tests.conftest import running


@pytest.fixture
async def client(testsvc_settings):
    async with running(testsvc_settings(relay_enabled=False, consumer_enabled=False)) as c:
        yield c


@pytest.mark.parametrize(("header", "language"), [
    (None, "nl"),
    ("", "nl"),
    ("nl", "nl"),
    ("en", "en"),
    ("EN-gb", "en"),
    ("nl-BE", "nl"),
    ("de", "nl"),  # unsupported: the default, not a 406
    ("de, fr;q=0.9", "nl"),
    ("fr, en;q=0.1", "en"),  # the only supported one named, however low
    ("nl;q=0.2, en;q=0.8", "en"),
    ("en;q=0.5, nl;q=0.5", "en"),  # a tie goes to the first named
    ("en;q=0", "nl"),  # q=0: not acceptable
    ("en;q=zero", "nl"),
    ("*", "nl"),
    ("de, *;q=0.5, en;q=0.6", "en"),
    ("en;q=0.4, *;q=0.5", "nl"),
])
def test_negotiation(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language


async def test_problem_is_dutch_by_default(client, auth) -> None:
    r = await client.get("/v1/applied-count", headers=auth("field-worker"))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["content-language"] == "nl"
    assert "Accept-Language" in r.headers["vary"]
    problem = r.json()
    assert (problem["title"], problem["status"], problem["type"]) == (
        "Niet toegestaan", 403, "about:blank")
    assert problem["detail"] == "deze handeling vraagt een van de rollen: admin"
    assert int(r.headers["content-length"]) == len(r.content)


async def test_problem_in_english_on_request(client, auth) -> None:
    r = await client.get("/v1/applied-count",
                         headers={**auth("field-worker"), "Accept-Language": "en-GB, nl;q=0.5"})
    assert r.headers["content-language"] == "en"
    assert r.json()["title"] == "Not allowed"
    assert r.json()["detail"] == "this action needs one of the roles: admin"


async def test_unsupported_language_gets_dutch(client) -> None:
    r = await client.get("/v1/applied-count", headers={"Accept-Language": "de-DE, fr;q=0.8"})
    assert r.status_code == 401 and r.headers["content-language"] == "nl"
    assert r.json()["title"] == "Aanmelden vereist"


async def test_field_reasons_are_translated_names_and_codes_kept(client, auth) -> None:
    body = {"id": "not-a-uuid", "area": "BU03630001", "count": "many", "label": "x",
            "extra": 1}
    dutch = (await client.post("/v1/notes", json=body, headers=auth("field-worker"))).json()
    english = (await client.post("/v1/notes", json=body,
                                 headers={**auth("field-worker"), "Accept-Language": "en"})).json()
    assert dutch["title"] == "Ongeldige invoer" and english["title"] == "Invalid input"
    assert dutch["detail"].startswith("3 ongeldig(e) veld(en): ")
    pairs = {p["name"]: p for p in english["invalidParams"]}
    for param in dutch["invalidParams"]:  # names and codes are contracts: unchanged
        assert param["code"] == pairs[param["name"]]["code"]
        assert param["reason"] != pairs[param["name"]]["reason"], param
    reasons = {p["name"]: p["reason"] for p in dutch["invalidParams"]}
    assert reasons["body.extra"] == "Extra velden zijn niet toegestaan"


async def test_problems_of_the_middleware_are_translated(client, auth) -> None:
    r = await client.post("/v1/notes", content=b"{not json", headers={
        **auth("field-worker"), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-language"] == "nl"
    assert r.json()["detail"].startswith("de inhoud is geen geldige JSON: ")
    assert r.json()["invalidParams"][0]["name"] == "body"
    missing = await client.get("/v1/nothing-here", headers={"Accept-Language": "nl"})
    assert (missing.status_code, missing.json()["title"], missing.json()["detail"]) == (
        404, "Niet gevonden", "Niet gevonden")


async def test_success_says_its_language_and_varies(client, auth) -> None:
    for header, language in ((None, "nl"), ("en", "en"), ("es", "nl")):
        headers = auth("admin") | ({"Accept-Language": header} if header else {})
        r = await client.get("/v1/applied-count", headers=headers)
        assert r.status_code == 200
        assert r.headers["content-language"] == language
        assert "Accept-Language" in r.headers["vary"].split(", ")


async def test_documents_are_not_tagged_but_document_the_language(client) -> None:
    r = await client.get("/v1/openapi.json")
    assert r.status_code == 200 and "content-language" not in r.headers
    spec = r.json()
    assert spec["components"]["headers"]["Content-Language"]["schema"]["enum"] == ["nl", "en"]
    responses = [response for item in spec["paths"].values() for op in item.values()
                 for response in op["responses"].values()]
    assert responses and all("Content-Language" in r["headers"] for r in responses)


async def test_vary_is_appended_never_overwritten() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"vary", b"Origin, Accept-Encoding")]})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "path": "/v1/x", "headers": [(b"accept-language", b"en")]}
    await i18n.LanguageMiddleware(app)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert headers[b"vary"] == b"Origin, Accept-Encoding, Accept-Language"
    assert headers[b"content-language"] == b"en"


def test_a_dutch_problem_arriving_in_parts_is_whole_after_translation() -> None:
    import asyncio

    import orjson
    body = orjson.dumps({"type": "about:blank", "title": "Not found", "status": 404,
                         "detail": "Not Found", "code": "keep-me"})
    sent: list[MutableMapping[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        await send({"type": "http.response.body", "body": body[10:]})

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(i18n.LanguageMiddleware(app)({"type": "http", "path": "/v1/x", "headers": []},
                                             receive, send))
    out = orjson.loads(sent[1]["body"])
    assert out == {"type": "about:blank", "title": "Niet gevonden", "status": 404,
                   "detail": "Niet gevonden", "code": "keep-me"}
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(sent[1]["body"])).encode()


def test_every_catalogue_entry_has_dutch_and_english() -> None:
    paths = i18n.catalogue_paths()
    assert any(p.parts[-3:] == ("services", "signals", "messages.toml") for p in paths)
    for path in paths:
        with path.open("rb") as f:
            data = tomllib.load(f)
        for section, table in data.items():
            tables = table.values() if section == "labels" else [table]
            for entries in tables:
                for key, texts in entries.items():
                    where = f"{path.name}: {section}.{key}"
                    assert set(texts) == {"nl", "en"}, where
                    assert all(isinstance(t, str) and t.strip() for t in texts.values()), where
                    names = [{n for _, n, _, _ in string.Formatter().parse(texts[lang]) if n}
                             for lang in ("nl", "en")]
                    assert names[0] == names[1], where


def test_every_problem_title_is_translated() -> None:
    book = i18n.catalogue()
    titles = problem_texts.titles()
    assert len(titles) > 15  # the scan finds them (a test that can fail)
    untranslated = [f"{t.where}: {t.sample}" for t in titles if not book.knows(t.sample)]
    assert not untranslated


#: Samples the scan cannot check (their values come from a closed set and the English text
#: differs per value); test_closed_set_messages_are_translated renders each real one.
EXPLAINED = frozenset({
    "A signal cannot go from 'v1' to 'v3'; from 'v5' it may go to: v7.",
    "A v1 may not move v3 signal from 'v5' to 'v7'.",
    "v0 is not a purpose v2",
    "the referral is v1 (v3): it cannot be v5 now",
    "the referral is v1 (v3): it cannot be v5 now; refer the signal again instead",
})


@pytest.mark.parametrize("top", ["shared", "services/signals", "services/indicators",
                                 "services/funding"])
def test_every_problem_text_in_the_code_is_translated(top: str) -> None:
    """Details and per-field reasons of every raise site have a Dutch text."""
    book = i18n.catalogue()
    texts = problem_texts.texts(top)
    assert len(texts) > 10
    untranslated = [f"{t.where}: {t.sample}" for t in texts
                    if not book.knows(t.sample) and t.sample not in EXPLAINED]
    assert not untranslated, "\n".join(untranslated)


def test_closed_set_messages_are_translated() -> None:
    from services.signals.casework.workflow import (
        InvalidTransition,
        SignalStatus,
        TransitionNotPermitted,
        WorkflowRole,
        allowed_transitions,
    )
    from services.signals.referrals.lifecycle import (
        STEPS,
        IllegalStep,
        ReferralStatus,
        ReferralStep,
    )
    book = i18n.catalogue()
    messages = [f"'x' is not a purpose {wanted}" for wanted in (
        "that rests on consent", "a resident can object to (consent is withdrawn instead)")]
    for current in SignalStatus:
        for target in set(SignalStatus) - allowed_transitions[current]:
            messages.append(str(InvalidTransition(current, target)))
        for role in WorkflowRole:
            messages += [str(TransitionNotPermitted(role, current, SignalStatus.NEW, own))
                         for own in (True, False)]
    for status in ReferralStatus:
        messages += [str(IllegalStep(status, step)) for step in ReferralStep]
    assert set(STEPS) < set(ReferralStep)
    untranslated = [m for m in messages if not book.knows(m)]
    assert not untranslated, untranslated
    assert book.translate(str(IllegalStep(ReferralStatus.WITHDRAWN, ReferralStep.ACCEPTED)),
                          "nl") == ("de verwijzing is withdrawn (ingetrokken): ze kan nu niet in "
                                    "behandeling worden genomen; verwijs het signaal in plaats "
                                    "daarvan opnieuw")


def test_translation_puts_caught_parts_in_place() -> None:
    book = i18n.catalogue()
    text = "invalid area code 'GM12': a gemeente code is GM + 4 digits (6 characters)"
    assert book.translate(text, "nl") == (
        "ongeldige gebiedscode 'GM12': een gemeente-code is GM + 4 digits (6 tekens)")
    assert book.translate(text, "en") == text
    assert book.translate("a text nobody catalogued", "nl") == "a text nobody catalogued"
    assert book.translate("Input should be 'low', 'medium', 'high' or 'acute'", "nl") == (
        "Moet 'low', 'medium', 'high' of 'acute' zijn")


def test_joined_sentences_are_translated_one_by_one() -> None:
    detail = ("the covenant does not allow this referral: Unknown purpose 'x'. "
              "The resident objected to purpose 'y'.")
    assert i18n.catalogue().translate(detail, "nl") == (
        "het convenant staat deze verwijzing niet toe: Onbekend doel 'x'. "
        "De bewoner maakte bezwaar tegen doel 'y'.")


def test_a_long_crafted_text_cannot_make_template_matching_backtrack() -> None:
    """ReDoS: a caught value (an area code, a CSV cell, a validator's message) is matched
    against every template again; one with three `.+?` placeholders and a literal end costs
    cubic time on text built of its own literals. A text longer than any catalogue text is
    left as it is, at once."""
    book = i18n.catalogue()
    crafted = ("A " + "r may not move its own signal from '" * 60 + "c' to '" * 600 + "t")
    assert len(crafted) > i18n.MAX_TEMPLATED_CHARS
    started = time.perf_counter()
    wrapped = f"invalid area code {crafted}: empty"
    assert book.translate(wrapped, "nl") == wrapped
    assert book.translate(crafted, "nl") == crafted
    assert not book.knows(crafted)
    # The worst text still matched, just under the limit, is cheap too.
    limit = crafted[:i18n.MAX_TEMPLATED_CHARS - 30]
    assert book.translate(f"invalid area code {limit}: empty", "nl").endswith(": leeg")
    assert time.perf_counter() - started < 0.5
