"""API conventions for every service (NL API Design Rules, RFC 9457).

`/v1` prefix, problem+json for every error (400 lists every invalid field, unknown query
parameters included), `API-Version` on every response, ETag and 304 on reads
(shared.http_cache), public OpenAPI at /v1/openapi.json with contact, security headers, CORS
by allowlist, `/livez`, `/readyz`, `/metrics`, and a request id in every log line.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import i18n
from shared.asyncapi import build_document
from shared.auth import Unauthorized, authenticate, bearer_token
from shared.docs_page import docs_router
from shared.fastpath import freeze_startup_objects, include_flat
from shared.http_cache import HttpCacheMiddleware
from shared.jsonbody import Refusal, is_json_request, limited, read_body, replay
from shared.logs import configure_logging, request_id
from shared.openapi import conform_openapi
from shared.problems import PROBLEM_JSON, InvalidParam, ProblemError
from shared.query_params import guard_query_params
from shared.ratelimit import RateLimitMiddleware
from shared.runtime import Runtime
from shared.settings import ServiceSettings
from shared.tracing import TracingMiddleware, route_template

log = logging.getLogger("http")

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "route",
                                                                  "status"])
HTTP_LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "route"])

CONTACT = {
    "name": "Dicht de kloof platform team",
    "url": "https://dichtdekloof.example.org/developers",
    "email": "platform@dichtdekloof.example.org",
}
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Default headers a route may set otherwise.
OVERRIDABLE = frozenset({b"cache-control", b"content-security-policy"})


def problem_response(
    status: int, title: str, detail: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                            "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _invalid_params(exc: RequestValidationError) -> list[InvalidParam]:
    params = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        kind = error.get("type", "invalid")
        reason = str(error.get("msg", "invalid"))
        if kind == "json_invalid":
            reason = "the body is not valid JSON: " + str(error.get("ctx", {}).get("error", ""))
        name = ".".join(loc) if loc else "body"
        params.append(InvalidParam(name=name, code=kind, reason=reason))
    return params


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    params = _invalid_params(exc)
    names = ", ".join(sorted({p.name for p in params}))
    return problem_response(
        400, "Invalid input", f"{len(params)} invalid field(s): {names}", request,
        invalidParams=[p.model_dump() for p in params],
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    response = JSONResponse(exc.body(request.url.path), status_code=exc.status,
                            media_type=PROBLEM_JSON)
    response.headers.update(exc.headers)
    return response


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large",
              415: "Unsupported media type"}
    response = problem_response(
        exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), request
    )
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """The methods of the resource the path names, as the OpenAPI document lists them.

    Starlette names only the first matching route's methods. The resource is the template of
    the first route the path matches (`/v1/signals/batch`, not `/v1/signals/{signalId}` that
    would also take "batch" as an id); every route sharing that template adds its methods.
    """
    probe = {**request.scope, "method": "__NONE__"}
    routes = list(iter_route_contexts(request.app.router.routes))  # into included routers
    template = next((getattr(r, "path_format", None) for r in routes
                     if r.matches(probe)[0] != Match.NONE), None)
    methods: set[str] = set()
    for route in routes:
        if template is not None and getattr(route, "path_format", None) == template:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # The route template and the class: the raw path and the message may hold personal data.
    route, error = route_template(request.scope) or "unmatched", type(exc).__qualname__
    log.error("unhandled %s on %s %s", error, request.method, route, exc_info=exc,
              extra={"route": route, "errorClass": error})
    return problem_response(500, "Internal error",
                            "something went wrong on our side; the request id is in the logs",
                            request)


class ConventionsMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware): headers, request id, size limit, metrics."""

    def __init__(self, app: ASGIApp, service: str, api_version: str,
                 body_limits: Mapping[str, int] | None = None,
                 public_writes: Collection[str] = ()) -> None:
        self.app = app
        self.service = service
        # Paths whose bodies may be larger than MAX_BODY_BYTES (a CBS file to import).
        self.body_limits = dict(body_limits or {})
        # Paths that take a body without a token (none today): see `_unauthenticated`.
        self.public_writes = frozenset(public_writes)
        self.headers = [
            (b"api-version", api_version.encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", b"frame-ancestors 'none'"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _header(scope, b"x-request-id")
        # Echoed back and logged: only short plain ASCII ids pass, anything else is replaced.
        if not rid or len(rid) > 100 or not (rid.isascii() and rid.replace("-", "").isalnum()):
            rid = str(uuid.uuid4())
        token = request_id.set(rid)
        started = time.perf_counter()
        status_holder = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                # The defaults, unless the route chose otherwise: a cache rule
                # (shared.http_cache.cacheable) or a policy (the docs page's, for its files).
                chosen = {h[0] for h in headers if h[0] in OVERRIDABLE}
                headers.extend(h for h in self.headers if h[0] not in chosen)
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            # Before anything else, authentication included: a body is held to its limit on
            # the bytes read, whatever its content type and framing.
            limit = self.body_limits.get(scope["path"], MAX_BODY_BYTES)
            length = _header(scope, b"content-length")
            if length and length.isdigit() and int(length) > limit:
                response = problem_response(
                    413, "Payload too large", f"the body exceeds {limit} bytes")
                await response(scope, receive, send_with_headers)
                return
            if (scope["method"] in WRITE_METHODS and scope["path"] not in self.public_writes
                    and _has_body(scope)):
                refusal = await _unauthenticated(scope)
                if refusal is not None:
                    response = JSONResponse(refusal.body(scope["path"]), status_code=401,
                                            media_type=PROBLEM_JSON)
                    response.headers["WWW-Authenticate"] = "Bearer"
                    await response(scope, receive, send_with_headers)
                    return
            if is_json_request(scope):
                # Parsed whole before the app runs, so never more than the JSON limit.
                body = await read_body(receive, min(limit, MAX_BODY_BYTES))
                if isinstance(body, Refusal):
                    titles = {400: "Invalid input", 413: "Payload too large"}
                    extra: dict[str, Any] = {} if body.status != 400 else {"invalidParams": [
                        {"name": "body", "code": "json_invalid", "reason": body.detail}]}
                    await problem_response(body.status, titles[body.status], body.detail,
                                           **extra)(scope, receive, send_with_headers)
                    return
                receive = replay(body, receive)
            else:
                receive = limited(receive, limit)
            await self.app(scope, receive, send_with_headers)
        finally:
            path = route_template(scope) or "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, scope["method"], path, status_holder[0]).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(elapsed)
            if path not in ("/livez", "/readyz", "/metrics"):
                # The route template, never the raw path or query: no identifiers in logs.
                log.info("request", extra={"method": scope["method"], "route": path,
                                           "status": status_holder[0],
                                           "durationMs": round(elapsed * 1000, 2)})
            request_id.reset(token)


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _has_body(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() != b"0"):
            return True
    return False


async def _unauthenticated(scope: Scope) -> ProblemError | None:
    """Why a body must not be read: no bearer token, or one that does not verify.

    Every write of every service needs a token, so a caller without a valid one is answered
    401 before a byte of its body is read (a stranger cannot make the service read 4 MB, nor
    parse it). The outcome is kept in the scope: the rate limiter and the route's own check
    reuse it, so a known token costs one dictionary look-up here. Who may do what (roles,
    organisation) is still the route's to decide."""
    token = bearer_token(scope)
    if token is None:
        return Unauthorized("send an 'Authorization: Bearer <token>' header")
    outcome = await authenticate(scope, token)
    return outcome if isinstance(outcome, ProblemError) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "up"}

    @router.get("/readyz")
    async def readyz(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {"database": "up" if await rt.database_ok() else "down"}
        checks["broker"] = "up" if await rt.producer.ping() else "down"
        status = "up"
        if checks["database"] == "down":
            status = "down"
        elif checks["broker"] == "down":
            status = "degraded"
        if rt.relay is not None:
            backlog, age = await rt.relay.backlog()
            checks["outbox"] = {"backlog": backlog, "oldestAgeSeconds": round(age, 1)}
            if age > rt.settings.outbox_max_age_s and status == "up":
                status = "degraded"
        checks["consumers"] = {c.name: "running" if c.connected else "starting"
                               for c in rt.consumers}
        code = 200 if status == "up" else 503
        return JSONResponse({"status": status, "checks": checks}, status_code=code)

    @router.get("/v1/asyncapi.json")
    async def asyncapi() -> dict[str, Any]:
        return build_document()

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        if rt.relay is not None:
            await rt.relay.backlog()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    runtime: Callable[[], Runtime],
    on_startup: Callable[[Runtime], Any] | None = None,
    body_limits: Mapping[str, int] | None = None,
    public_writes: Collection[str] = (),
) -> FastAPI:
    """A service app following every convention; `runtime` builds its parts at start-up.

    `body_limits` raises the body limit (MAX_BODY_BYTES) for the paths it names;
    `public_writes` names the paths that take a body without a bearer token (else 401 before
    the body is read)."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime()
        await rt.start()
        app.state.runtime = rt
        app.state.token_verifier = rt.token_verifier
        app.state.tracer = rt.tracer
        guard_query_params(app)  # again: routes a service added after create_app
        # Starlette builds the middleware (and so reads the message catalogue) on the first
        # request: done here, that request does not hold the loop for it (~40 ms).
        i18n.catalogue()
        freeze_startup_objects()
        if on_startup is not None:
            await on_startup(rt)
        log.info("service started", extra={"url": settings.base_url()})
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title=title,
        description=description,
        version=settings.api_version,
        contact=CONTACT,
        license_info={"name": "EUPL-1.2", "url": "https://eupl.eu/1.2/en/"},
        openapi_url="/v1/openapi.json",
        docs_url=None,  # shared.docs_page: served from here, under a strict CSP
        swagger_ui_oauth2_redirect_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # FastAPI's own telemetry is off: its spans carry the raw path and query string, and
        # its log records exception messages (personal data). TracingMiddleware traces instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                   "auto_configure": False},
    )
    for router in routers:
        include_flat(app, router, prefix="/v1")
    include_flat(app, health_router())
    include_flat(app, docs_router(title))
    guard_query_params(app)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match",
                           "Idempotency-Key", "X-Request-ID"],
            expose_headers=["API-Version", "ETag", "Location", "X-Request-ID"],
        )
    app.add_middleware(HttpCacheMiddleware)  # outside CORS: adds to its Vary: Origin
    app.add_middleware(RateLimitMiddleware, per_second=settings.rate_limit_per_second,
                       burst=settings.rate_limit_burst)
    app.add_middleware(ConventionsMiddleware, service=settings.service_name,
                       api_version=settings.api_version, body_limits=body_limits,
                       public_writes=public_writes)
    i18n.install(app)  # outside the rest: their problems are translated too
    app.add_middleware(TracingMiddleware)  # outermost: its span covers all the rest

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, contact=CONTACT, license_info=app.license_info,
            )
            app.openapi_schema = conform_openapi(spec, settings.api_version)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
