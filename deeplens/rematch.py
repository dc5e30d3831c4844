"""Asking the match step to apply the settings as they are now to everything matched before
(``deeplens rematch``, ``POST /rematch``)."""

from __future__ import annotations

from deeplens.config import Settings
from deeplens.db.rematch import lock_tenant_rematch, rematch_pending
from deeplens.errors import Conflict
from eventing import types
from eventing.events import Event
from eventing.http import BrokerPublisher
from eventing.queue import DeliveryQueue

SOURCE = "deeplens/rematch"


def request_rematch(settings: Settings, queue: DeliveryQueue, tenant: str, *, decide: bool = True) -> Event:
    """Publish a ``rematch.requested`` event for ``tenant``: through the Broker in the cluster
    (``DEEPLENS_BROKER_URL``), where the match function applies the settings it runs with;
    else onto the durable queue, for this process's workers. ``decide=False`` rolls up the
    appearances only (see :class:`~eventing.types.RematchRequested`). Returns the event.

    A tenant has at most one rematch pending: a rematch costs about what matching the whole
    library cost, so while one is queued or running (or its follow-up events are) another
    is :class:`Conflict` ``rematch_pending``.
    """
    request = Event(type=types.REMATCH_REQUESTED, source=SOURCE, data=types.RematchRequested(decide=decide).model_dump(),
                    subject="rematch", tenant=tenant)
    # The tenant's lock makes check-and-publish one step, so two requests at once cannot both pass the check.
    with queue.pool.connection() as conn, conn.transaction():
        lock_tenant_rematch(conn, tenant)
        if rematch_pending(conn, tenant):
            raise Conflict("rematch_pending", "a rematch of this tenant is already pending; wait for it to finish")
        if settings.broker_url:
            BrokerPublisher(settings.broker_url)(request)
        else:
            queue.enqueue(conn, [request])
    return request
