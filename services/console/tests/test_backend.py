"""The console's one way to the APIs: the user's token and language go along, problems come
back as the API wrote them, a service that does not answer is `ServiceDown`."""

from __future__ import annotations

import httpx
import pytest

from services.console.backend import Api, ApiProblem, ServiceDown, SignedOut
from services.console.settings import Settings

SETTINGS = Settings(signals_url="http://signals.test", log_json=False)


def api_with(handler, token="tok", lang="en") -> Api:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Api(client, SETTINGS, token, lang)


async def test_the_token_and_language_go_to_the_api():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        seen["url"] = str(request.url)
        return httpx.Response(200, json={"ok": True})

    assert await api_with(handler).get("signals", "/v1/signals") == {"ok": True}
    assert seen["authorization"] == "Bearer tok" and seen["accept-language"] == "en"
    assert seen["url"] == "http://signals.test/v1/signals"


async def test_a_problem_keeps_its_fields_and_refusals():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={
            "title": "Cannot be processed", "status": 422, "detail": "refused",
            "invalidParams": [{"name": "body.purpose", "reason": "not for this category"}],
            "refusals": [{"code": "category-not-for-purpose", "message": "no"}]})

    with pytest.raises(ApiProblem) as caught:
        await api_with(handler).call("POST", "signals", "/v1/x", json={})
    assert caught.value.fields == {"purpose": ["not for this category"]}
    assert caught.value.refusals[0]["code"] == "category-not-for-purpose"


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_gateway_error_is_a_service_down(status):
    with pytest.raises(ServiceDown):
        await api_with(lambda r: httpx.Response(status)).get("signals", "/v1/x")


async def test_a_refused_token_signs_out():
    with pytest.raises(SignedOut):
        await api_with(lambda r: httpx.Response(401)).get("signals", "/v1/x")


async def test_no_answer_is_a_service_down():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ServiceDown) as caught:
        await api_with(handler).get("signals", "/v1/x")
    assert caught.value.service == "signals"


async def test_code_lists_are_kept_per_language_and_revalidated_with_their_etag():
    from services.console.codelists import CodeLists

    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        lang = request.headers["accept-language"]
        seen.append((lang, request.headers.get("if-none-match")))
        if request.headers.get("if-none-match") == f'"{lang}1"':
            return httpx.Response(304, headers={"ETag": f'"{lang}1"'})
        label = "Nieuw" if lang == "nl" else "New"
        return httpx.Response(200, headers={"ETag": f'"{lang}1"'}, json={"lists": {
            "signal-status": [{"code": "new", "label": label}],
            "subcategory": [{"code": "noise", "category": "nuisance", "label": "Geluid"}],
            "read-purpose": [{"code": "triage", "label": "Triage", "roles": ["coordinator"]},
                             {"code": "data-subject-access", "label": "Inzage",
                              "roles": ["privacy-officer"]}]}})

    lists = CodeLists("signals", ttl_s=60)
    nl = await lists.get(api_with(handler, lang="nl"), "nl")
    assert nl("signal-status", "new") == "Nieuw" and nl("signal-status", "odd") == "odd"
    assert nl("subcategory", "nuisance/noise") == "Geluid"
    assert nl.read_purposes("coordinator") == [("triage", "Triage")]
    assert (await lists.get(api_with(handler, lang="nl"), "nl")) is nl  # kept: no request
    en = await lists.get(api_with(handler, lang="en"), "en")
    assert en("signal-status", "new") == "New"
    assert seen == [("nl", None), ("en", None)]
    lists.ttl_s = 0  # expired: revalidated with the ETag, the 304 keeps the copy
    assert (await lists.get(api_with(handler, lang="nl"), "nl")) is nl
    assert seen[-1] == ("nl", '"nl1"')
