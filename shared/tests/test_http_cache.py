"""ETag and If-None-Match on reads, Cache-Control per route class, Vary added to, not replaced."""

from __future__ import annotations

import uuid

import pytest
from fastapi import Response

from shared.http_cache import append_vary, cacheable, known_etag, none_match, strong_etag
from shared.tests import testapp
from shared.tests.conftest import running
from tests.apps import serve


@pytest.fixture
async def client(testsvc_settings):
    async with running(testsvc_settings(relay_enabled=False, consumer_enabled=False)) as c:
        yield c


async def _note(client, auth) -> str:
    note_id = str(uuid.uuid4())
    r = await client.post("/v1/notes", json={"id": note_id, "area": "BU03630001", "count": 1,
                                             "label": "x"}, headers=auth("field-worker"))
    assert r.status_code == 201
    return note_id


async def test_a_read_has_an_etag_and_if_none_match_gives_304_without_a_body(client, auth):
    note_id = await _note(client, auth)
    headers = auth("field-worker")
    r = await client.get(f"/v1/notes/{note_id}", headers=headers)
    assert r.status_code == 200
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10  # strong
    assert r.headers["Cache-Control"] == "no-store"  # one organisation's data: kept nowhere
    assert r.headers["Vary"].split(", ") == ["Authorization", "Accept-Language"]

    again = await client.get(f"/v1/notes/{note_id}", headers=headers)
    assert again.headers["ETag"] == etag  # the same body, the same validator

    for sent in (etag, f'W/{etag}', f'"other", {etag}', "*"):
        r = await client.get(f"/v1/notes/{note_id}", headers={**headers,
                                                              "If-None-Match": sent})
        assert r.status_code == 304, sent
        assert r.content == b""
        assert r.headers["ETag"] == etag
        assert r.headers["Cache-Control"] == "no-store"
        assert "content-type" not in r.headers
        assert r.headers["API-Version"] == "1.0.0"

    stale = await client.get(f"/v1/notes/{note_id}", headers={**headers,
                                                              "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.json()["id"] == note_id


async def test_errors_and_writes_get_no_etag(client, auth):
    r = await client.get(f"/v1/notes/{uuid.uuid4()}", headers=auth("field-worker"))
    assert r.status_code == 404 and "ETag" not in r.headers
    r = await client.get(f"/v1/notes/{uuid.uuid4()}", headers={"If-None-Match": "*"})
    assert r.status_code == 401  # a validator never gets past authentication
    r = await client.post("/v1/notes", json={"id": str(uuid.uuid4()), "area": "BU03630001",
                                             "count": 1, "label": "x"},
                          headers=auth("field-worker"))
    assert r.status_code == 201 and "ETag" not in r.headers


async def test_a_route_chooses_public_caching_and_vary_is_appended_to(testsvc_settings, auth):
    app = testapp.build(testsvc_settings(relay_enabled=False, consumer_enabled=False))
    version = {"v": "2025.1"}

    async def reference(response: Response) -> dict[str, str]:
        cacheable(response)
        response.headers["Vary"] = "Accept-Language"  # as a language negotiation would
        return {"version": version["v"]}

    async def own_validator(response: Response) -> dict[str, str]:
        response.headers["ETag"] = '"7"'  # a version for If-Match: kept, never a 304
        return {"id": "x"}

    app.add_api_route("/v1/reference", reference, methods=["GET"])
    app.add_api_route("/v1/versioned", own_validator, methods=["GET"])
    async with serve(app) as client:
        r = await client.get("/v1/reference", headers=auth("field-worker"))
        assert r.headers["Cache-Control"] == "public, max-age=300"
        assert r.headers["Vary"] == "Accept-Language"  # the same for every caller
        first = r.headers["ETag"]
        r = await client.get("/v1/reference", headers={"If-None-Match": first})
        assert r.status_code == 304
        assert r.headers["Cache-Control"] == "public, max-age=300"
        assert r.headers["Vary"] == "Accept-Language"

        version["v"] = "2026.1"  # a new version: a new validator, the new body
        r = await client.get("/v1/reference", headers={"If-None-Match": first})
        assert r.status_code == 200 and r.json() == {"version": "2026.1"}
        assert r.headers["ETag"] != first

        r = await client.get("/v1/versioned", headers={"If-None-Match": '"7"'})
        assert r.status_code == 200 and r.headers["ETag"] == '"7"'


async def test_a_route_that_knows_its_bodys_etag_is_not_hashed_again(testsvc_settings, auth):
    """Kept bytes (a national ranking) carry the ETag made with them: the middleware takes it
    as the body's own (304 on it, Vary) without holding or hashing the body."""
    app = testapp.build(testsvc_settings(relay_enabled=False, consumer_enabled=False))
    body = b'{"items": [' + b",".join(b"%d" % i for i in range(100_000)) + b"]}"
    handed = b'"handed-over"'  # not the body's hash: proves the middleware did not hash

    async def kept() -> Response:
        return Response(body, media_type="application/json", headers=known_etag(handed))

    app.add_api_route("/v1/kept", kept, methods=["GET"])
    async with serve(app) as client:
        headers = {**auth("field-worker"), "Accept-Encoding": "identity"}
        r = await client.get("/v1/kept", headers=headers)
        assert r.status_code == 200 and r.content == body
        assert r.headers["ETag"] == handed.decode() != strong_etag(body).decode()
        assert "x-body-etag" not in r.headers
        assert r.headers["Vary"].split(", ") == ["Accept-Encoding", "Authorization",
                                                 "Accept-Language"]
        assert r.headers["Content-Length"] == str(len(body))

        r = await client.get("/v1/kept", headers={**headers,
                                                  "If-None-Match": f"W/{handed.decode()}"})
        assert r.status_code == 304 and r.content == b""
        assert r.headers["ETag"] == handed.decode()
        assert "content-length" not in r.headers or r.headers["content-length"] == "0"
        assert r.headers["Cache-Control"] == "no-store"

        r = await client.get("/v1/kept", headers={**headers, "If-None-Match": '"stale"'})
        assert r.status_code == 200 and r.content == body


def test_vary_is_added_to_never_replaced():
    assert append_vary([(b"vary", b"Accept-Language")], "Authorization") == [
        (b"vary", b"Accept-Language, Authorization")]
    assert append_vary([(b"Vary", b"Origin"), (b"vary", b"accept-language")],
                       "Authorization", "Origin") == [
        (b"vary", b"Origin, accept-language, Authorization")]
    assert append_vary([(b"vary", b"*")], "Authorization") == [(b"vary", b"*")]
    assert append_vary([], "Authorization") == [(b"vary", b"Authorization")]


def test_if_none_match_compares_weakly():
    assert none_match(b'W/"a", "b"', b'"a"')
    assert none_match(b'"a"', b'W/"a"')
    assert not none_match(b'"ab"', b'"a"')
    assert none_match(b" * ", b'"a"')
