"""Traces: off unless configured; the trace context rides on events from step to step."""

from __future__ import annotations

import subprocess
import sys

from deeplens import tracing
from deeplens.logs import trace_id
from eventing.events import Event
from eventing.http import parse_request, to_binary_request

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_tracing_off_without_an_endpoint_installs_no_provider_and_loads_no_sdk():
    # A fresh interpreter: this session's tests install an in-memory provider.
    code = (
        "import sys; from deeplens import tracing; "
        "assert tracing.configure('deeplens-test', {}) is False; "
        "assert not tracing.enabled(); "
        "assert not any(m.startswith('opentelemetry.sdk') for m in sys.modules), 'SDK loaded'; "
        "from eventing.events import Event; "
        "e = Event(type='t', source='s', data={}, traceparent='" + TRACEPARENT + "'); "
        "assert e.child('u', {}, source='s', key='k').traceparent == e.traceparent"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_endpoint_turns_tracing_on_with_the_service_name():
    code = (
        "from opentelemetry import trace; from deeplens import tracing; "
        "assert tracing.configure('deeplens-keyframes', {'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}); "
        "assert trace.get_tracer_provider().resource.attributes['service.name'] == 'deeplens-keyframes'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_span_is_the_child_of_the_events_traceparent(span_exporter):
    with tracing.span("step keyframes", traceparent=TRACEPARENT, deeplens_step="keyframes"):
        assert tracing.current_trace_id() == trace_id(TRACEPARENT)
    (span,) = span_exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id(TRACEPARENT)
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.attributes["deeplens.step"] == "keyframes"


def test_child_events_carry_the_current_span_as_traceparent(span_exporter):
    parent = Event(type="video.uploaded", source="test", data={})
    with tracing.span("step keyframes") as current:
        child = parent.child("keyframe.extracted", {}, source="test", key="1")
    context = current.get_span_context()
    assert child.traceparent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


def test_the_traceparent_survives_json_and_binary_http(span_exporter):
    event = Event(type="video.uploaded", source="test", data={"key": "k"}, traceparent=TRACEPARENT, tracestate="deeplens=1")
    assert Event.from_json(event.to_json()) == event
    headers, body = to_binary_request(event)
    assert headers["ce-traceparent"] == TRACEPARENT
    assert parse_request(headers, body) == event
