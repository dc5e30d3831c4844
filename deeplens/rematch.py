"""Asking the match step to apply the settings as they are now to everything matched before
(``deeplens rematch``, ``POST /rematch``)."""

from __future__ import annotations

from deeplens.config import Settings
from eventing import types
from eventing.events import Event
from eventing.http import BrokerPublisher
from eventing.queue import DeliveryQueue

SOURCE = "deeplens/rematch"


def request_rematch(settings: Settings, queue: DeliveryQueue, *, decide: bool = True) -> Event:
    """Publish a ``rematch.requested`` event for the tenant: through the Broker in the cluster
    (``DEEPLENS_BROKER_URL``), where the match function applies the settings it runs with;
    else onto the durable queue, for this process's workers. ``decide=False`` rolls up the
    appearances only (see :class:`~eventing.types.RematchRequested`). Returns the event."""
    request = Event(type=types.REMATCH_REQUESTED, source=SOURCE, data=types.RematchRequested(decide=decide).model_dump(),
                    subject="rematch", tenant=settings.tenant)
    if settings.broker_url:
        BrokerPublisher(settings.broker_url)(request)
    else:
        queue.publish([request])
    return request
