"""One functions-framework target per step: parse the event, run the library step, publish.

    functions-framework --source functions/main.py --target keyframes --signature-type cloudevent

``ingest`` is an HTTP function (``--signature-type http``): MinIO's webhook POSTs bucket
notifications that are not CloudEvents, and the broker delivers CloudEvents; it takes
both. Outputs go to ``DEEPLENS_BROKER_URL`` (the Broker ingress) when set, else onto the
durable queue in PostgreSQL. A step that raises answers 500, so the sender retries.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._runtime import handle, handle_notification, record_dead_letter


@functions_framework.http
def ingest(request: Any) -> tuple[dict[str, Any], int]:
    """Bucket notification or object.created → product.uploaded / video.uploaded."""
    return handle_notification(request.headers, request.get_data())


@functions_framework.cloud_event
def keyframes(cloud_event: Any) -> None:
    """video.uploaded → frames.extracted (batches)."""
    handle("keyframes", cloud_event)


@functions_framework.cloud_event
def features(cloud_event: Any) -> None:
    """product.uploaded / frames.extracted → image.indexed."""
    handle("features", cloud_event)


@functions_framework.cloud_event
def match(cloud_event: Any) -> None:
    """image.indexed / rematch.requested → match.found (and image.indexed, where a pass goes on)."""
    handle("match", cloud_event)


@functions_framework.cloud_event
def evidence(cloud_event: Any) -> None:
    """match.found → match.evidenced."""
    handle("evidence", cloud_event)


@functions_framework.cloud_event
def deadletter(cloud_event: Any) -> None:
    """A Trigger's dead-letter sink: keep the event and its error for listing and replay."""
    record_dead_letter(cloud_event)
