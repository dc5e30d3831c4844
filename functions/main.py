"""One functions-framework target per step: parse the event, run the library step, publish.

    functions-framework --source functions/main.py --target keyframes

Every target is an HTTP function that reads the CloudEvent itself, because Knative's
Broker counts any non-empty reply that is not a CloudEvent as a failed delivery, and
functions-framework's CloudEvent functions always answer ``OK``. So each answers by what
a retry can change: 204 and no body when done (bad input included: it is recorded where
the API shows it), 400 for a request no redelivery can fix (not a CloudEvent, or a type
the step does not take), 500 for a fault that may pass (retried with backoff, then
dead-lettered). ``ingest`` also takes the bucket notifications MinIO's webhook POSTs as
plain JSON. Outputs go to ``DEEPLENS_BROKER_URL`` (the Broker ingress) when set, else
onto the durable queue in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import functions_framework

from eventing.routing import ROUTES, STEPS
from functions._runtime import Reply, handle, handle_notification, record_dead_letter, scrape


@functions_framework.http
def ingest(request: Any) -> Reply:
    """Bucket notification or object.created → product.uploaded / video.uploaded."""
    return scrape(request) or handle_notification(request.headers, request.get_data())


def _step_target(step: str) -> Callable[[Any], Reply]:
    """The target of a step that takes CloudEvents only (every step but ingest)."""

    def target(request: Any) -> Reply:
        return scrape(request) or handle(step, request.headers, request.get_data())

    # functions-framework finds a target, and registers its signature type, by this name.
    target.__name__ = target.__qualname__ = step
    target.__doc__ = f"The {step} step: " + ", ".join(r.event_type for r in ROUTES if r.subscriber == step) + "."
    return functions_framework.http(target)


# keyframes, features, match, evidence: one target per step of the routing table.
globals().update({step: _step_target(step) for step in STEPS if step != "ingest"})


@functions_framework.http
def deadletter(request: Any) -> Reply:
    """A Trigger's dead-letter sink: keep the event and its error for listing and replay."""
    return scrape(request) or record_dead_letter(request.headers, request.get_data())
