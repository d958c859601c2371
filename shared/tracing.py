"""OpenTelemetry tracing across HTTP and Kafka, exported over OTLP/HTTP; off by default.

Each service's Runtime owns its own TracerProvider (never the process-global one): several
services share a process in tests, a global provider can be set only once, and FastAPI's
built-in telemetry would switch itself on for a global one. Without `DDK_OTLP_ENDPOINT`
there is no provider at all and every hook below is a `None` check.

The trace context crosses Kafka as the CloudEvents distributed-tracing extension: the W3C
`traceparent` of the span that wrote an event is stored with its outbox row and sent as the
`ce_traceparent` header; the consumer runs the effect in a child span of it.

Periodic workers (the indicators publisher, the funding recompute, the retention purge) run
each round that has work in a root span of its own (`worker_span`).

Personal data never enters a span: HTTP spans carry the method, the route template and the
status, never the raw path, query string, headers or body; consumer spans carry the topic
and CloudEvents id and type. Exceptions are recorded by type only, since messages (an
integrity error's parameters, say) can hold personal data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import ServiceSettings

# W3C trace context only: no baggage, which could carry anything a caller put in it.
_W3C = TraceContextTextMapPropagator()
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNTRACED = frozenset({"/livez", "/readyz", "/metrics"})  # probes and scrapes are noise


def route_template(scope: Scope) -> str | None:
    """The matched route's template (`/v1/signals/{signalId}`), never the raw path.

    FastAPI matches routes of included routers lazily: `scope["route"]` then holds the
    router's own path without the include prefix, the full template is in its route context.
    """
    route = scope.get("fastapi", {}).get("effective_route_context") or scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else None


def configure_tracing(settings: ServiceSettings) -> TracerProvider | None:
    """A provider exporting to the configured OTLP/HTTP collector, or None (tracing off)."""
    endpoint = settings.otlp_endpoint.rstrip("/")
    if not endpoint:
        return None
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"  # given the collector's base URL, like OTEL_EXPORTER_OTLP_*
    provider = TracerProvider(resource=Resource.create({
        "service.name": settings.service_name, "service.version": settings.api_version}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer("dichtdekloof") if provider is not None else None


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store with an outbox row; None if untraced."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)  # writes nothing when there is no valid current span
    return carrier.get("traceparent")


@contextlib.contextmanager
def _span(
    tracer: Tracer, name: str, kind: SpanKind, parent: Context, attributes: Mapping[str, Any]
) -> Iterator[Span]:
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes),
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(StatusCode.ERROR)
            raise


def consumer_span(
    tracer: Tracer | None, *, topic: str, group: str, event_id: str, event_type: str,
    traceparent: str | None,
) -> contextlib.AbstractContextManager[Any]:
    """A CONSUMER span for applying one event, a child of the span that produced it."""
    if tracer is None:
        return contextlib.nullcontext()
    parent = _W3C.extract({"traceparent": traceparent} if traceparent else {})
    return _span(tracer, f"process {topic}", SpanKind.CONSUMER, parent, {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "cloudevents.event_id": event_id,
        "cloudevents.event_type": event_type,
    })


def worker_span(tracer: Tracer | None, name: str) -> contextlib.AbstractContextManager[Any]:
    """An INTERNAL span for one run of a periodic task that has work to do, in a trace of
    its own: the events it writes carry its traceparent, so their consumers' spans join it."""
    if tracer is None:
        return contextlib.nullcontext()
    return _span(tracer, name, SpanKind.INTERNAL, Context(), {})


class TracingMiddleware:
    """A SERVER span per HTTP request, continuing an incoming W3C `traceparent`.

    Pure ASGI and outermost, so the span covers every other middleware. The tracer is the
    runtime's, put on `app.state` by the lifespan.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer: Tracer | None = getattr(scope["app"].state, "tracer", None)
        if tracer is None or scope["type"] != "http" or scope["path"] in _UNTRACED:
            await self.app(scope, receive, send)
            return
        # Only the two trace-context headers are read: never Authorization or any other.
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"traceparent", b"tracestate")}
        method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
        status: list[int] = []

        async def send_and_note_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        attributes = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
        with _span(tracer, method, SpanKind.SERVER, _W3C.extract(carrier), attributes) as span:
            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                route = route_template(scope)  # known once routing has matched
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status[0])
                    if status[0] >= 500:
                        span.set_attribute("error.type", str(status[0]))
                        span.set_status(StatusCode.ERROR)
