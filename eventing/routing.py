"""The routing table: the single source of truth for which event type goes to which step.

The Helm chart renders one Knative Trigger per row (``charts/render_routes.py`` writes
them to ``files/routes.json``), the local broker routes by the same rows, and the steps
named here are the runner's steps (``deeplens/pipeline/runner.py``) and the function
targets (``functions/main.py``). A new step is a module ``deeplens/pipeline/<step>.py``
with a ``handle(event, services)`` plus its rows here (then regenerate routes.json).
"""

from __future__ import annotations

from dataclasses import dataclass

from eventing import types


@dataclass(frozen=True)
class Route:
    """One Trigger: deliver events of ``event_type`` to the step ``subscriber``."""

    name: str
    event_type: str
    subscriber: str
    batches: bool = False
    """Whether the in-process broker's worker may take several of this route's due deliveries
    at once (``DEEPLENS_DELIVERY_BATCH``): for cheap events that come one per uploaded object,
    whose claim and outcome cost as much as the step itself. Knative delivers one at a time."""


ROUTES: tuple[Route, ...] = (
    Route("ingest-object-created", types.OBJECT_CREATED, "ingest", batches=True),
    Route("keyframes-video-uploaded", types.VIDEO_UPLOADED, "keyframes"),
    Route("keyframes-video-segment", types.VIDEO_SEGMENT, "keyframes"),
    Route("features-product-uploaded", types.PRODUCT_UPLOADED, "features", batches=True),
    Route("features-frames-extracted", types.FRAMES_EXTRACTED, "features"),
    Route("match-image-indexed", types.IMAGE_INDEXED, "match"),
    Route("match-rematch-requested", types.REMATCH_REQUESTED, "match"),
    Route("evidence-match-found", types.MATCH_FOUND, "evidence"),
)

STEPS: tuple[str, ...] = tuple(dict.fromkeys(route.subscriber for route in ROUTES))


def subscribers_for(event_type: str, routes: tuple[Route, ...] = ROUTES) -> list[str]:
    """Every step subscribed to ``event_type``, in table order, once each."""
    return list(dict.fromkeys(route.subscriber for route in routes if route.event_type == event_type))
