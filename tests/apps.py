"""The one way tests run an app: its lifespan, an HTTP client over ASGI, and its runtime.

`serve(app)` yields the client; `runtime_of(client)` is the running app's runtime (its
sessions, relay, consumers), for a test that looks into the database the way an operator
would or stops a consumer the way a crash does; `app_of(client)` is the app itself. The
root conftest's `start_service` is `serve` on a service from the registry.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import TypeVar, overload

import httpx
from fastapi import FastAPI

from shared.runtime import Runtime

R = TypeVar("R", bound=Runtime)

_RUNTIMES: weakref.WeakKeyDictionary[httpx.AsyncClient, Runtime] = weakref.WeakKeyDictionary()
_APPS: weakref.WeakKeyDictionary[httpx.AsyncClient, FastAPI] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over HTTP through ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            _RUNTIMES[client] = app.state.runtime
            _APPS[client] = app
            try:
                yield client
            finally:
                _RUNTIMES.pop(client, None)
                _APPS.pop(client, None)


@overload
def runtime_of(client: httpx.AsyncClient) -> Runtime: ...
@overload
def runtime_of(client: httpx.AsyncClient, kind: type[R]) -> R: ...
def runtime_of(client: httpx.AsyncClient, kind: type[Runtime] = Runtime) -> Runtime:
    """The runtime of the app `client` talks to (while `serve` runs it)."""
    try:
        rt = _RUNTIMES[client]
    except KeyError:
        raise LookupError("this client was not made by tests.apps.serve, or its app "
                          "has stopped") from None
    assert isinstance(rt, kind), f"{type(rt).__name__} is no {kind.__name__}"
    return rt


def app_of(client: httpx.AsyncClient) -> FastAPI:
    """The app `client` talks to (while `serve` runs it)."""
    return _APPS[client]
