"""Traces: OpenTelemetry, off unless an OTLP endpoint is configured.

One trace per uploaded object: ingest starts it, and every event a step emits carries the
current span as the CloudEvents distributed-tracing extension (``traceparent``, and
``tracestate`` when there is one), so the next step's span is its child, whichever broker
delivered the event. Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the standard OTel variable, e.g.
``http://collector:4318``) to turn tracing on; ``OTEL_TRACES_SAMPLER_ARG`` is the ratio of
new traces sampled (default 1.0). With no endpoint no provider is made and :func:`span`
costs nothing but a context manager.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

F = TypeVar("F", bound=Callable[..., Any])

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("deeplens")


def enabled() -> bool:
    """True when a tracer provider is installed (by :func:`configure` or a test)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def configure(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install an SDK provider exporting over OTLP/HTTP when the endpoint is set; True when it did.

    ``service`` names the process (the step, the results service, the broker).
    """
    environ = os.environ if environ is None else environ
    endpoint = traces_endpoint(environ)
    if endpoint is None:
        return False
    if enabled():
        return True
    # Imported here so a process with tracing off never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    ratio = float(environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
    provider = TracerProvider(resource=Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or service}),
                              sampler=ParentBasedTraceIdRatio(ratio))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return True


def traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where spans go, by the OTel rules: the traces endpoint as given, else the base endpoint's ``/v1/traces``."""
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return f"{base.rstrip('/')}/v1/traces" if base else None


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered (a short-lived process calls it before it exits)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(timeout_ms)


@contextmanager
def span(name: str, *, traceparent: str | None = None, tracestate: str | None = None, **attributes: Any) -> Iterator[Any]:
    """A span named ``name``, child of ``traceparent`` when given, else of the current span.

    Attributes with a None value are left out; keep them bounded (no secrets, no payloads).
    """
    if not enabled():
        yield trace.INVALID_SPAN
        return
    context = None
    if traceparent:
        carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
        context = _propagator.extract(carrier)
    attrs = {key.replace("_", "."): value for key, value in attributes.items() if value is not None}
    with _tracer.start_as_current_span(name, context=context, attributes=attrs) as current:
        yield current


def current_trace_id() -> str:
    """The current span's trace id as 32 hex digits, or empty outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def current_headers() -> dict[str, str]:
    """The current span as W3C trace-context fields (``traceparent``, maybe ``tracestate``); empty when none."""
    carrier: dict[str, str] = {}
    if enabled():
        _propagator.inject(carrier)
    return carrier


def traced_key(name: str) -> Callable[[F], F]:
    """Decorate an object-store method whose first argument is the object key: a span ``name`` around each call."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
            with span(name, store_key=key):
                return method(self, key, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
