"""Read a JSON request body once, strictly, before the app sees it.

The standard library's parser (FastAPI's) takes lone UTF-16 surrogates ("\\ud800"), which
later break storage and response encoding, and recurses without bound on deeply nested
input. orjson refuses both (strict UTF-8, a nesting limit), so a body it cannot read is
turned away here with a 400 naming the body, and the app gets the bytes it was sent.
A body sent in chunks without a Content-Length is also held to the size limit here, and
every other body through `limited`, on the bytes actually read.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

JSON_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass
class Refusal:
    status: int
    detail: str


def is_json_request(scope: Scope) -> bool:
    if scope["method"] not in JSON_METHODS:
        return False
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


async def read_body(receive: Receive, limit: int) -> bytes | Refusal:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return Refusal(413, f"the body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if body:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return Refusal(400, f"the body is not valid JSON: {exc}")
    return body


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then defers to the original."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def limited(receive: Receive, limit: int) -> Receive:
    """A `receive` that counts the body bytes read and refuses with a 413 past `limit`.

    The app may read the body at any moment (FastAPI does before it checks the token) or
    never; counting on every read holds the limit either way, and a body that is never read
    stays in the server's flow-controlled buffer.
    """
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        chunk = message.get("body")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the body exceeds {limit} bytes")
        return message

    return counted
