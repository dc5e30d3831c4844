"""The per-process state behind the entrypoints, built on the first event (not at import)."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import httpx

from deeplens.config import Settings
from deeplens.pipeline.runner import StepRunner
from deeplens.pipeline.services import Services
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.http import from_cloudevent, post_event
from eventing.queue import DeliveryQueue
from deeplens.errors import BadInput

log = logging.getLogger(__name__)


class _Process:
    def __init__(self) -> None:
        settings = Settings()
        self.runner = StepRunner(Services.from_settings(settings))
        self.broker_url = os.environ.get("DEEPLENS_BROKER_URL")
        self.queue = DeliveryQueue(self.runner.services.db.pool, DeliverySpec.from_settings(settings))
        self.client = httpx.Client(timeout=30.0)

    def publish(self, events: list[Event]) -> None:
        if self.broker_url:
            for event in events:
                post_event(self.client, self.broker_url, event)
        else:
            self.queue.publish(events)


@functools.cache
def _process() -> _Process:
    return _Process()


def handle(step: str, cloud_event: Any) -> None:
    """Run ``step`` on a delivered CloudEvent and publish what it emits.

    The event is marked processed only after its outputs are published, so a crash in
    between leads to a redelivery that republishes the same (deterministic) event ids.
    """
    process = _process()
    try:
        event = from_cloudevent(cloud_event)
    except BadInput as exc:
        # Redelivering a malformed event cannot fix it: acknowledge it and say why.
        log.error("%s: rejected malformed event %s: %s", step, cloud_event.get("id"), exc)
        return
    outputs = process.runner.run(step, event)
    process.publish(outputs)
    process.runner.mark_processed(step, event)
