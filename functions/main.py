"""One functions-framework target per step: parse the CloudEvent, run the library step, publish.

``functions-framework --source functions/main.py --target keyframes --signature-type cloudevent``
Outputs go to ``DEEPLENS_BROKER_URL`` (the Knative Broker ingress) when set, else onto the
durable queue in PostgreSQL. A step that raises answers 500, so the sender retries.
"""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._runtime import handle


@functions_framework.cloud_event
def ingest(cloud_event: Any) -> None:
    """Object-created notification → product.uploaded / video.uploaded."""
    handle("ingest", cloud_event)


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
    """image.indexed → match.found."""
    handle("match", cloud_event)


@functions_framework.cloud_event
def evidence(cloud_event: Any) -> None:
    """match.found → match.evidenced."""
    handle("evidence", cloud_event)
