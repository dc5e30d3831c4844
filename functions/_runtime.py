"""The per-process state behind the entrypoints, built on the first request (not at import)."""

from __future__ import annotations

import base64
import functools
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from deeplens import metrics, tracing
from deeplens.config import Settings
from deeplens.errors import BadInput, Undeliverable
from deeplens.logs import configure_logging, log_context, trace_id
from deeplens.native_threads import cap_native_threads
from deeplens.pipeline.ingest import notification_event
from deeplens.pipeline.runner import StepRunner
from deeplens.pipeline.services import Services
from eventing.broker import describe_error
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.http import ERROR_CODE, ERROR_DATA, ERROR_DEST, BrokerPublisher, from_cloudevent, parse_cloudevent
from eventing.queue import DeliveryQueue
from eventing.routing import STEPS, subscribers_for

log = logging.getLogger(__name__)

Reply = tuple[str, int, dict[str, str]]
"""What a function answers: body, status and headers (functions-framework hands it to Flask)."""

_DONE: Reply = ("", 204, {})


class _Process:
    """Services, step runner and the way out (broker URL, else the durable queue) of one server process."""

    def __init__(self) -> None:
        self.settings = Settings()
        configure_logging(self.settings.log_format)
        # DEEPLENS_WORKERS is the pod's containerConcurrency (set by the chart).
        cap_native_threads(self.settings.threads_per_worker)
        self.runner = StepRunner(Services.from_settings(self.settings))
        self.queue = DeliveryQueue(self.runner.services.db.pool, DeliverySpec.from_settings(self.settings))
        self.broker = BrokerPublisher(self.settings.broker_url) if self.settings.broker_url else None

    def publish(self, events: list[Event]) -> None:
        if self.broker is None:
            self.queue.publish(events)
            return
        for event in events:
            self.broker(event)


@functools.cache
def _process() -> _Process:
    return _Process()


def run_step(step: str, event: Event) -> None:
    """Run ``step`` and publish what it emits, then remember the event as processed.

    Marking comes last, so a crash in between leads to a redelivery that republishes
    the same (deterministic) event ids, which the broker deduplicates.
    """
    process = _process()
    outputs = process.runner.run(step, event)
    process.publish(outputs)
    process.runner.mark_processed(step, event)


def scrape(request: Any) -> Reply | None:
    """The metrics exposition for ``GET /metrics`` (functions-framework routes every path to the function), else None.

    It never builds the process: before the first event there is no pool or queue to read.
    """
    if request.method != "GET" or request.path != "/metrics":
        return None
    built = _process.cache_info().currsize > 0
    collectors = metrics.process_collectors(_process().runner.services.db.pool, queue=True) if built else []
    body, content_type = metrics.exposition(collectors)
    return body.decode(), 200, {"Content-Type": content_type}


def error_reply(status: int, error: str, detail: str) -> Reply:
    """A failed delivery's answer: the sender keeps its short JSON body with the dead letter."""
    return json.dumps({"error": error, "detail": detail}), status, {"Content-Type": "application/json"}


def _deliver(step: str, event: Event) -> Reply:
    """Run the step on a parsed event and answer by what a redelivery could change."""
    # Each function process serves one step, so the step names the traced service.
    tracing.configure(f"deeplens-{step}")
    try:
        run_step(step, event)
    except Undeliverable as exc:
        log.error("%s: refused event %s (%s): %s", step, event.id, event.type, exc)
        return error_reply(400, "undeliverable", str(exc))
    except Exception as exc:  # any other fault may pass: the sender retries
        log.exception("%s: event %s (%s) failed; the sender retries it", step, event.id, event.type)
        return error_reply(500, "transient", describe_error(exc))
    return _DONE


def handle(step: str, headers: Mapping[str, str], body: bytes) -> Reply:
    """Entry for a step: a CloudEvent (binary or structured) in, an empty 204 out when done."""
    try:
        cloud_event = parse_cloudevent(headers, body)
        event = from_cloudevent(cloud_event)
    except BadInput as exc:
        # Redelivering a malformed event cannot fix it: 400, which Knative dead-letters.
        log.error("%s: rejected a malformed event: %s", step, exc)
        metrics.failed(step, "other", exc.reason)
        return error_reply(400, exc.reason, exc.message)
    # The step runner's span sets the OTel trace id when tracing is on; this one stands until then.
    with log_context(trace_id=trace_id(event.traceparent)):
        return _deliver(step, event)


def handle_notification(headers: Mapping[str, str], body: bytes) -> Reply:
    """Entry for ingest: a CloudEvent, or a bucket notification POSTed as-is (MinIO webhook, S3/SQS ``Records``).

    With ``DEEPLENS_WEBHOOK_TOKEN`` set, a notification must carry it as MinIO sends it
    (``Authorization: Bearer <token>``); CloudEvents come from the Broker, inside the cluster.
    """
    headers = {str(name).lower(): value for name, value in headers.items()}
    try:
        if "ce-specversion" in headers or "cloudevents" in headers.get("content-type", ""):
            event = from_cloudevent(parse_cloudevent(headers, body))
        else:
            settings = _process().settings
            if not _carries_token(headers, settings.webhook_token.get_secret_value() if settings.webhook_token else None):
                log.warning("ingest: refused a bucket notification without the webhook token")
                return error_reply(401, "invalid_webhook_token", "the notification does not carry the webhook token")
            event = notification_event(json.loads(body or b"null"), settings.tenant)
    except (BadInput, ValueError) as exc:
        return error_reply(400, "malformed_notification", str(exc))
    return _deliver("ingest", event)


def _carries_token(headers: Mapping[str, str], token: str | None) -> bool:
    """Whether the request carries ``token`` (always, when none is configured); compared in constant time."""
    if token is None:
        return True
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def record_dead_letter(headers: Mapping[str, str], body: bytes) -> Reply:
    """Keep an event a Knative Trigger gave up on, with the error its extensions carry."""
    try:
        cloud_event = parse_cloudevent(headers, body)
        event = from_cloudevent(cloud_event)
    except BadInput as exc:
        return error_reply(400, exc.reason, exc.message)
    attributes = cloud_event.get_attributes()
    destination = str(attributes.get(ERROR_DEST, ""))
    process = _process()
    try:
        process.queue.record_dead_letter(event, _failed_step(destination, event.type), _error_text(attributes),
                                         process.queue.spec.max_attempts)
    except Exception as exc:  # the database may be back next time
        log.exception("deadletter: could not keep event %s", event.id)
        return error_reply(500, "transient", describe_error(exc))
    return _DONE


def _failed_step(destination: str, event_type: str) -> str:
    """The step that gave up: named by the subscriber's host (``keyframes.<ns>.svc``), else by the routing table."""
    host = urlparse(destination).hostname or destination
    named = [step for step in STEPS if host == step or host.startswith(f"{step}.")]
    if named:
        return named[0]
    subscribed = subscribers_for(event_type)
    return subscribed[0] if len(subscribed) == 1 else destination or "unknown"


def _error_text(attributes: Mapping[str, Any]) -> str:
    body = attributes.get(ERROR_DATA)
    detail = base64.b64decode(body).decode(errors="replace") if body else ""
    return f"HTTP {attributes.get(ERROR_CODE, '?')} from {attributes.get(ERROR_DEST, '?')}: {detail}".strip()
