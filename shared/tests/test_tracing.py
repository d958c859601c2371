"""Tracing over the real broker, exported over OTLP/HTTP to a fake collector.

The collector is the one fake: it stands for the external OpenTelemetry Collector and keeps
what the service's real exporter sends. Spans are flushed when the app shuts down, so each
test inspects them after `running(...)` has exited.
"""

import gzip
import secrets
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider

from shared.events import CloudEvent
from shared.kafka import dlq_topic
from shared.tests.conftest import at_least, note, read_topic, running
from shared.tests.testapp import NoteRecorded, NoteServiceSettings, note_type
from shared.tracing import configure_tracing
from tests.helpers import eventually

SERVER, CONSUMER = 2, 5  # OTLP SpanKind values
ERROR = 2  # OTLP StatusCode


@dataclass
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]
    status_code: int
    everything: str  # the span as text, to search for what must never be in it


class Collector:
    """An OTLP/HTTP trace receiver on a free port."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.receive(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        for rs in request.resource_spans:
            resource = _attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    self.spans.append(ReceivedSpan(
                        service=str(resource["service.name"]), name=s.name, kind=s.kind,
                        trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex(), attributes=_attributes(s.attributes),
                        status_code=s.status.code, everything=str(s)))

    def of_kind(self, kind: int) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.kind == kind]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _attributes(kvs) -> dict[str, object]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def header(message, name: str) -> str | None:
    return next((v.decode() for k, v in message.headers if k == name), None)


async def test_a_request_continues_the_callers_trace_and_keeps_personal_data_out(
        testsvc_settings, collector, auth):
    settings = testsvc_settings(otlp_endpoint=collector.url, consumer_enabled=False)
    incoming, trace_id, parent_id = traceparent()
    note_id = str(uuid.uuid4())
    async with running(settings) as client:
        r = await client.post(
            "/v1/notes",
            json={"id": note_id, "area": "BU03630001", "count": 1, "label": "Jansen"},
            headers={**auth("field-worker"), "traceparent": incoming})
        assert r.status_code == 201
        # Query parameters the route does not take are refused (400), and stay out of spans.
        r = await client.get(f"/v1/notes/{note_id}?postcode=1234AB&name=Jansen",
                             headers=auth("field-worker"))
        assert r.status_code == 400
        assert (await client.get("/livez")).status_code == 200  # probes are not traced

    span, read = collector.of_kind(SERVER)
    assert (read.name, read.attributes["http.route"]) == (
        "GET /v1/notes/{note_id}", "/v1/notes/{note_id}")  # the template, not the id
    assert read.parent_id == ""  # no traceparent came with it: a trace of its own
    assert (span.service, span.name) == ("testsvc", "POST /v1/notes")
    assert (span.trace_id, span.parent_id) == (trace_id, parent_id)
    # Exactly these attributes: no path, query string, header or body ever gets in.
    assert span.attributes == {"http.request.method": "POST", "url.scheme": "http",
                               "http.route": "/v1/notes", "http.response.status_code": 201}
    for s in collector.spans:
        for secret in ("1234AB", "Jansen", "Bearer", "postcode", note_id):
            assert secret not in s.everything


async def post_a_traced_note(settings, broker, auth, incoming: str):
    """POST a note with a caller's traceparent; the event it published, once applied."""
    async with running(settings) as client:
        r = await client.post("/v1/notes", json=note(),
                              headers={**auth("field-worker"), "traceparent": incoming})
        assert r.status_code == 201
        await eventually(lambda: at_least(client, auth, 1))
        (message,) = await read_topic(broker.bootstrap_servers, settings.topic, 1)
    return message


async def test_an_event_carries_the_trace_over_kafka_into_the_consumer_span(
        testsvc_settings, broker, collector, auth):
    settings = testsvc_settings(otlp_endpoint=collector.url)
    incoming, trace_id, _ = traceparent()
    message = await post_a_traced_note(settings, broker, auth, incoming)

    (server,) = [s for s in collector.of_kind(SERVER) if s.name == "POST /v1/notes"]
    # The header names the span that wrote the event: the request's server span.
    assert header(message, "ce_traceparent") == f"00-{trace_id}-{server.span_id}-01"
    (consumer,) = collector.of_kind(CONSUMER)
    assert (consumer.trace_id, consumer.parent_id) == (trace_id, server.span_id)
    assert consumer.name == f"process {settings.topic}"
    assert consumer.attributes == {
        "messaging.system": "kafka", "messaging.operation.type": "process",
        "messaging.destination.name": settings.topic,
        "messaging.consumer.group.name": f"testsvc-{settings.topic}",
        "cloudevents.event_id": header(message, "ce_id"),
        "cloudevents.event_type": note_type(settings.topic).type,
    }


async def test_each_event_of_a_batch_gets_a_span_in_its_own_trace(
        testsvc_settings, broker, collector, auth):
    settings = testsvc_settings(otlp_endpoint=collector.url)
    etype = note_type(settings.topic)
    parents = {}
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        for i in range(4):  # one key, so one partition: a batch for the consumer
            event = CloudEvent.new("urn:test", etype.type, NoteRecorded(
                note_id=uuid.uuid4(), area="BU03630001", count=i))
            if i < 3:
                tp, trace_id, span_id = traceparent()
                event.extensions["traceparent"] = tp
                parents[event.id] = (trace_id, span_id)
            else:
                untraced_id = event.id
            await producer.send_and_wait(settings.topic, event.value(), key=b"BU03630001",
                                         headers=event.headers())
    finally:
        await producer.stop()
    async with running(settings) as client:
        await eventually(lambda: at_least(client, auth, 4))

    spans = {s.attributes["cloudevents.event_id"]: s for s in collector.of_kind(CONSUMER)}
    assert len(spans) == 4
    for event_id, (trace_id, span_id) in parents.items():
        assert (spans[event_id].trace_id, spans[event_id].parent_id) == (trace_id, span_id)
    assert spans[untraced_id].parent_id == ""  # no context came with it: a new trace
    assert spans[untraced_id].trace_id not in {t for t, _ in parents.values()}


async def test_a_failing_effect_is_recorded_by_exception_type_only(
        testsvc_settings, broker, collector):
    settings = testsvc_settings(otlp_endpoint=collector.url, consumer_max_attempts=2)
    tp, trace_id, span_id = traceparent()
    event = CloudEvent.new("urn:test", note_type(settings.topic).type, NoteRecorded(
        note_id=uuid.uuid4(), area="BU03630001", count=13))  # the handler fails on 13
    event.extensions["traceparent"] = tp
    async with running(settings):
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(settings.topic, event.value(), key=b"BU03630001",
                                         headers=event.headers())
        finally:
            await producer.stop()
        (parked,) = await read_topic(broker.bootstrap_servers, dlq_topic(settings.topic), 1)
        assert header(parked, "ce_traceparent") == tp  # the dead letter keeps the context

    attempts = collector.of_kind(CONSUMER)
    assert len(attempts) == 2
    for span in attempts:
        assert (span.trace_id, span.parent_id) == (trace_id, span_id)
        assert span.status_code == ERROR
        assert span.attributes["error.type"] == "RuntimeError"
        assert "unlucky" not in span.everything  # the exception's message stays out


async def test_tracing_is_off_without_an_endpoint(testsvc_settings, broker, auth, monkeypatch):
    monkeypatch.delenv("DDK_OTLP_ENDPOINT", raising=False)
    assert NoteServiceSettings().otlp_endpoint == ""
    settings = testsvc_settings()
    assert configure_tracing(settings) is None
    incoming, _, _ = traceparent()
    message = await post_a_traced_note(settings, broker, auth, incoming)
    assert header(message, "ce_traceparent") is None  # nothing traced, nothing propagated
    # No provider was installed anywhere, the process-global one included.
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
