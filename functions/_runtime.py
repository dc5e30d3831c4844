"""The per-process state behind the entrypoints, built on the first request (not at import)."""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from deeplens.config import Settings
from deeplens.errors import BadInput
from deeplens.native_threads import cap_native_threads
from deeplens.pipeline.ingest import notification_event
from deeplens.pipeline.runner import StepRunner
from deeplens.pipeline.services import Services
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.http import ERROR_CODE, ERROR_DATA, ERROR_DEST, BrokerPublisher, from_cloudevent, parse_request
from eventing.queue import DeliveryQueue
from eventing.routing import STEPS, subscribers_for

log = logging.getLogger(__name__)


class _Process:
    """Services, step runner and the way out (broker URL, else the durable queue) of one server process."""

    def __init__(self) -> None:
        self.settings = Settings()
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


def handle(step: str, cloud_event: Any) -> None:
    """Entry for a CloudEvents function; a malformed event is logged and acknowledged."""
    try:
        event = from_cloudevent(cloud_event)
    except BadInput as exc:
        # Redelivering a malformed event cannot fix it.
        log.error("%s: rejected malformed event %s: %s", step, cloud_event.get("id"), exc)
        return
    run_step(step, event)


def handle_notification(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, Any], int]:
    """Entry for ingest: a CloudEvent, or a bucket notification POSTed as-is (MinIO webhook, S3/SQS ``Records``)."""
    headers = {str(name).lower(): value for name, value in headers.items()}
    try:
        if "ce-specversion" in headers or "cloudevents" in headers.get("content-type", ""):
            event = parse_request(headers, body)
        else:
            event = notification_event(json.loads(body or b"null"), _process().settings.tenant)
    except (BadInput, ValueError) as exc:
        return {"error": "malformed_notification", "detail": str(exc)}, 400
    run_step("ingest", event)
    return {"accepted": event.id}, 200


def record_dead_letter(cloud_event: Any) -> None:
    """Keep an event a Knative Trigger gave up on, with the error its extensions carry."""
    attributes = cloud_event.get_attributes()
    destination = str(attributes.get(ERROR_DEST, ""))
    event = from_cloudevent(cloud_event)
    process = _process()
    process.queue.record_dead_letter(event, _failed_step(destination, event.type), _error_text(attributes), process.queue.spec.max_attempts)


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
