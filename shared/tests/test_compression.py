"""Kept answers go gzipped to clients that accept it, compressed once per answer."""

from __future__ import annotations

import asyncio
import gzip
import random
import zlib

import httpx
import pytest
import uvicorn
from fastapi import Response

from shared.compression import GzipKept, accepts_gzip, weak
from shared.http_cache import known_etag
from shared.tests import testapp
from tests.apps import app_of, serve
from tests.helpers import eventually

BODY = b'{"items": [' + b",".join(b"%d" % i for i in range(100_000)) + b"]}"
SMALL = b'{"items": [' + b",".join(b"%d" % i for i in range(1_000)) + b"]}"  # < MIN_BYTES


@pytest.fixture
def compressions(monkeypatch) -> list[int]:
    """The size of each body the service compressed."""
    made: list[int] = []
    compress = zlib.compress

    def counted(data, level, wbits):
        made.append(len(data))
        return compress(data, level, wbits)

    monkeypatch.setattr(zlib, "compress", counted)  # as shared.compression calls it
    return made


@pytest.fixture
async def kept(testsvc_settings):
    """A service with two kept answers: `/v1/kept` (large), `/v1/small` (under MIN_BYTES)."""
    app = testapp.build(testsvc_settings(relay_enabled=False, consumer_enabled=False))
    answers = {"large": (BODY, b'"large-1"'), "small": (SMALL, b'"small-1"')}

    async def large() -> Response:
        body, etag = answers["large"]
        return Response(body, media_type="application/json", headers=known_etag(etag))

    async def small() -> Response:
        body, etag = answers["small"]
        return Response(body, media_type="application/json", headers=known_etag(etag))

    async def twin() -> Response:  # a route that hands over another answer's ETag
        return Response(BODY + b" ", media_type="application/json",
                        headers=known_etag(answers["large"][1]))

    async def shouting() -> Response:
        return Response(BODY, media_type="application/JSON", headers=known_etag(b'"loud"'))

    async def untyped() -> Response:
        return Response(BODY, headers=known_etag(b'"untyped"'))

    app.add_api_route("/v1/kept", large, methods=["GET"])
    app.add_api_route("/v1/small", small, methods=["GET"])
    app.add_api_route("/v1/twin", twin, methods=["GET"])
    app.add_api_route("/v1/shouting", shouting, methods=["GET"])
    app.add_api_route("/v1/untyped", untyped, methods=["GET"])
    async with serve(app) as client:
        yield client, answers


async def test_a_kept_answer_goes_gzipped_once_made_and_validates_either_way(
        kept, auth, compressions):
    client, answers = kept
    headers = {**auth("field-worker"), "Accept-Encoding": "gzip, deflate"}
    r = await client.get("/v1/kept", headers=headers)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.content == BODY  # as httpx decoded it
    assert int(r.headers["Content-Length"]) < len(BODY) / 2
    assert r.headers["ETag"] == 'W/"large-1"'
    assert set(r.headers["Vary"].split(", ")) == {"Accept-Encoding", "Authorization",
                                                  "Accept-Language"}
    assert r.headers["Cache-Control"] == "no-store"

    for sent in ('W/"large-1"', '"large-1"', '"other", W/"large-1"'):
        r = await client.get("/v1/kept", headers={**headers, "If-None-Match": sent})
        assert r.status_code == 304 and r.content == b"", sent
        assert r.headers["ETag"] == 'W/"large-1"'
        assert "Accept-Encoding" in r.headers["Vary"]

    # 20 readers at once, then more: one compression, in a thread (the body is large).
    reads = await asyncio.gather(*(client.get("/v1/kept", headers=headers) for _ in range(20)))
    assert {r.content for r in reads} == {BODY}
    assert compressions == [len(BODY)]

    answers["large"] = (BODY.replace(b"99999", b"99998"), b'"large-2"')  # a new version
    r = await client.get("/v1/kept", headers={**headers, "If-None-Match": 'W/"large-1"'})
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"large-2"'
    assert r.content == answers["large"][0] and len(compressions) == 2


async def test_gzip_only_where_accepted_and_worth_it(kept, auth, compressions):
    client, _ = kept
    for accept, gzipped in [("gzip", True), ("*", True), ("br;q=1, gzip;q=0.5", True),
                            ("x-gzip", True), ("gzip;q=0", False), ("identity", False),
                            ("br", False), ("*, gzip;q=0", False), ("", False)]:
        r = await client.get("/v1/kept", headers={**auth("field-worker"),
                                                   "Accept-Encoding": accept})
        assert r.status_code == 200 and r.content == BODY, accept
        assert ("Content-Encoding" in r.headers) is gzipped, accept
        assert r.headers["ETag"] == ('W/"large-1"' if gzipped else '"large-1"'), accept
        assert "Accept-Encoding" in r.headers["Vary"], accept  # either way: caches must know
    assert compressions == [len(BODY)]

    r = await client.get("/v1/small", headers={**auth("field-worker"),
                                                "Accept-Encoding": "gzip"})
    assert r.content == SMALL and "Content-Encoding" not in r.headers
    assert r.headers["ETag"] == '"small-1"' and "Accept-Encoding" not in r.headers["Vary"]
    assert compressions == [len(BODY)]


async def test_headers_on_several_lines_are_one_list(kept, auth):
    client, _ = kept
    token = auth("field-worker")["Authorization"]
    r = await client.get("/v1/kept", headers=[("Authorization", token),
                                              ("Accept-Encoding", "gzip;q=0"),
                                              ("Accept-Encoding", "*")])
    assert "Content-Encoding" not in r.headers and r.content == BODY
    r = await client.get("/v1/kept", headers=[("Authorization", token),
                                              ("Accept-Encoding", "identity"),
                                              ("Accept-Encoding", "gzip")])
    assert r.headers["Content-Encoding"] == "gzip"
    r = await client.get("/v1/kept", headers=[("Authorization", token),
                                              ("If-None-Match", '"other"'),
                                              ("If-None-Match", 'W/"large-1"')])
    assert r.status_code == 304


async def test_what_is_gzipped_is_the_routes_own_json(kept, auth):
    """A route that hands over another answer's ETag still gets its own bytes; JSON in any
    case is JSON; an answer without a type is not taken for JSON."""
    client, _ = kept
    headers = {**auth("field-worker"), "Accept-Encoding": "gzip"}
    assert (await client.get("/v1/kept", headers=headers)).content == BODY
    r = await client.get("/v1/twin", headers=headers)
    assert r.content == BODY + b" " and r.headers["Content-Encoding"] == "gzip"
    r = await client.get("/v1/shouting", headers=headers)
    assert r.content == BODY and r.headers["Content-Encoding"] == "gzip"
    r = await client.get("/v1/untyped", headers=headers)
    assert r.content == BODY and "Content-Encoding" not in r.headers


async def test_over_real_http_the_gzipped_bytes_are_the_answer(kept, auth):
    """The bytes on the wire, through uvicorn: a gzip stream of exactly the kept body."""
    client, _ = kept
    server = uvicorn.Server(uvicorn.Config(app_of(client), host="127.0.0.1", port=0,
                                           lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started))
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, \
                http.stream("GET", "/v1/kept", headers={**auth("field-worker"),
                                                       "Accept-Encoding": "gzip"}) as r:
            raw = b"".join([part async for part in r.aiter_raw()])
    finally:
        server.should_exit = True
        await serving
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == BODY and len(raw) == int(r.headers["Content-Length"])


def test_accept_encoding_is_read_as_rfc_9110_says():
    assert accepts_gzip(b"gzip, deflate, br")
    assert accepts_gzip(b"GZIP;Q=0.1")
    assert accepts_gzip(b"deflate, *;q=0.5")
    assert not accepts_gzip(b"gzip;q=0, *")
    assert not accepts_gzip(b"gzip;q=x")
    assert not accepts_gzip(None)
    assert weak(b'"a"') == b'W/"a"' and weak(b'W/"a"') == b'W/"a"'


async def test_the_kept_gzips_are_bounded_by_their_bytes():
    kept = GzipKept(budget=2_500)  # two of the four below
    bodies = {b'"%d"' % i: random.Random(i).randbytes(1_000) for i in range(4)}
    for etag, body in bodies.items():
        assert gzip.decompress(await kept.packed(etag, body)) == body
    assert 2_000 < kept.used <= 2_500 and kept.compressions == 4
    await kept.packed(b'"3"', bodies[b'"3"'])  # the last one stayed
    assert kept.compressions == 4
    await kept.packed(b'"0"', bodies[b'"0"'])  # the first one was dropped
    assert kept.compressions == 5


def test_httpx_asks_for_gzip_as_browsers_do():
    """Why this matters: the console's and dashboards' clients ask for it unasked."""
    assert b"gzip" in httpx.Client().headers["Accept-Encoding"].encode()
