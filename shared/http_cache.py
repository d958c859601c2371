"""Validators and cache rules for reads: `ETag`, `If-None-Match` -> 304, `Cache-Control`, `Vary`.

Two route classes (docs/guarantees.md, "Caching"):

- **Public reference data** the same for every caller and free of personal data (the signal
  taxonomy at `/v1/categories`): the route calls `cacheable(response)`, so the answer says
  `Cache-Control: public, max-age=300` and any cache may keep it for five minutes.
- **Everything else**, personal data or data of one organisation: `Cache-Control: no-store`
  (set by ConventionsMiddleware wherever a route set none), so neither a shared cache nor the
  browser keeps it. It still gets an ETag: an app that keeps its own copy (a field app's local
  store) revalidates with `If-None-Match` and gets a 304 without the body when nothing changed.

The ETag is strong: a hash of the exact body the route produced (so it changes with every
byte, the taxonomy's `version` in the body included). A route that sets an ETag of its own
(a signal's or scenario's version, the token for `If-Match` on a change) keeps it, and no 304
is given on it: a version does not tell the representations of one resource apart (a signal
read with and without a purpose have the same version).

Cheap where it matters: anything but a GET passes straight through; a GET's body is held
until complete (up to MAX_HELD_BYTES, then it streams on without an ETag). A route that answers
with bytes it keeps (a ranking of 14,000 buurten, 1.5 MB) hashes them once when it makes them
and hands that hash over with `known_etag`: the body then streams on unheld and unhashed, and
`If-None-Match` is answered as for any other read. Such an answer goes gzipped to a client
that accepts it, compressed once per kept answer (`shared.compression`). A map (outlines and
published values, 10 MB for every buurt) is made per request but hands over its hash too
(`etag_off_loop`), so it goes gzipped the same way.
"""

from __future__ import annotations

import asyncio
import hashlib

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.compression import MIN_BYTES, THREAD_BYTES, GzipKept, accepts_gzip, weak

PUBLIC_MAX_AGE_S = 300
MAX_HELD_BYTES = 8 * 1024 * 1024
#: The headers a 304 carries over from the 200 it stands for (RFC 9110 15.4.5).
KEPT_ON_304 = {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
#: How a route hands over the strong ETag of the exact body it answers with (see known_etag);
#: the middleware takes it off before the answer leaves.
KNOWN_ETAG = b"x-body-etag"


def cacheable(response: Response, max_age_s: int = PUBLIC_MAX_AGE_S) -> None:
    """Mark a route's answer as public reference data: the same for every caller and
    without personal data (never use it on anything else)."""
    response.headers["Cache-Control"] = f"public, max-age={max_age_s}"


def append_vary(headers: list[tuple[bytes, bytes]], *names: str) -> list[tuple[bytes, bytes]]:
    """`headers` with `names` added to its Vary (one header, existing names kept, no
    duplicates): another layer may have said `Vary: Accept-Language` or `Origin` already."""
    present: list[str] = []
    rest: list[tuple[bytes, bytes]] = []
    for key, value in headers:
        if key.lower() == b"vary":
            present.extend(v.strip() for v in value.decode("latin-1").split(",") if v.strip())
        else:
            rest.append((key, value))
    lowered = {p.lower() for p in present}
    if "*" in lowered:
        return headers
    for name in names:
        if name.lower() not in lowered:
            present.append(name)
            lowered.add(name.lower())
    if present:
        rest.append((b"vary", ", ".join(present).encode("latin-1")))
    return rest


def strong_etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


async def etag_off_loop(body: bytes) -> bytes:
    """`strong_etag` of a large body hashed in a thread (hashlib lets go of the GIL for
    large inputs): 2 ms of the event loop for a national ranking, 15 ms for a national map."""
    if len(body) < THREAD_BYTES:
        return strong_etag(body)
    return await asyncio.to_thread(strong_etag, body)


def known_etag(etag: bytes) -> dict[str, str]:
    """The header for a route's answer whose body's `strong_etag` it already holds (only for
    exactly that body: the middleware does not check it, and keeps the body gzipped by it)."""
    return {KNOWN_ETAG.decode(): etag.decode("latin-1")}


def none_match(header: bytes, etag: bytes) -> bool:
    """Does `If-None-Match` name `etag`? Weak comparison (RFC 9110 13.1.2): W/ is ignored."""
    if header.strip() == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == bare for tag in header.split(b","))


def _gzippable(headers: list[tuple[bytes, bytes]]) -> bool:
    """A JSON answer of a known length, worth compressing, not encoded yet."""
    length, json = 0, False
    for key, value in headers:
        key = key.lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"content-type":
            json = b"json" in value.lower()
        elif key == b"content-encoding":
            return False
    return json and length >= MIN_BYTES


def _gzipped_headers(headers: list[tuple[bytes, bytes]], length: int
                     ) -> list[tuple[bytes, bytes]]:
    return [*(h for h in headers if h[0].lower() != b"content-length"),
            (b"content-encoding", b"gzip"), (b"content-length", str(length).encode())]


class HttpCacheMiddleware:
    """Adds a strong ETag to each complete 200 answer to a GET, answers `If-None-Match`
    with 304 and says `Vary: Authorization` where the answer depends on the caller; a kept
    answer goes gzipped where the client accepts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzipped = GzipKept()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        # A header sent on several lines is one list (RFC 9110 5.3).
        if_none_match: bytes | None = None
        accept_encoding: bytes | None = None
        authorised = False
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                if_none_match = value if if_none_match is None else if_none_match + b"," + value
            elif key == b"authorization":
                authorised = True
            elif key == b"accept-encoding":
                accept_encoding = (value if accept_encoding is None
                                   else accept_encoding + b"," + value)
        held: list[Message] = []
        size = 0
        passing = False  # not ours to change: sent on as it comes
        not_modified = False  # a 304 has been sent: the route's body is dropped
        packing: bytes | None = None  # a kept answer's ETag: its body goes gzipped

        async def send_cached(message: Message) -> None:
            nonlocal size, passing, not_modified, packing
            if not_modified:
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                known = next((v for k, v in headers if k == KNOWN_ETAG), None)
                if message["status"] == 200 and known is not None:
                    headers = [h for h in headers if h[0] != KNOWN_ETAG]
                    if _gzippable(headers):
                        headers = append_vary(headers, "Accept-Encoding")
                        if accepts_gzip(accept_encoding):
                            if if_none_match is not None and none_match(if_none_match, known):
                                not_modified = await self._start(
                                    message, headers, weak(known), if_none_match, authorised,
                                    send)
                                return
                            packing = known
                            held.append({**message, "headers": headers})
                            return
                    passing = True
                    not_modified = await self._start(message, headers, known, if_none_match,
                                                     authorised, send)
                    return
                if message["status"] != 200 or any(k == b"etag" for k, _ in headers):
                    passing = True
                    await send(message)
                    return
                held.append(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            held.append(message)
            size += len(message.get("body", b""))
            if message.get("more_body", False):
                # Too big to hold: on without a validator (a kept answer is held anyway).
                if packing is None and size > MAX_HELD_BYTES:
                    passing = True
                    for m in held:
                        await send(m)
                    held.clear()
                return
            start, chunks = held[0], held[1:]
            body = b"".join(m.get("body", b"") for m in chunks)
            headers = list(start.get("headers", ()))
            if packing is not None:  # checked against If-None-Match at its start
                body = await self.gzipped.packed(packing, body)
                await self._start(start, _gzipped_headers(headers, len(body)), weak(packing),
                                  None, authorised, send)
            elif await self._start(start, headers, strong_etag(body), if_none_match,
                                   authorised, send):
                body = b""
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_cached)

    @staticmethod
    async def _start(start: Message, headers: list[tuple[bytes, bytes]], etag: bytes,
                     if_none_match: bytes | None, authorised: bool, send: Send) -> bool:
        """Send the start of the answer with its ETag: a 304 (True: send no body) where
        `If-None-Match` names it, else the 200's."""
        headers = [*headers, (b"etag", etag)]
        public = any(k == b"cache-control" and b"public" in v.lower() for k, v in headers)
        if authorised and not public:
            headers = append_vary(headers, "Authorization")
        if if_none_match is not None and none_match(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304,
                        "headers": [h for h in headers if h[0].lower() in KEPT_ON_304]})
            return True
        await send({**start, "headers": headers})
        return False
