"""The laptop composition: every step in one process, wired the way the cluster wires them.

The store announces created objects as S3 notification records; each becomes an
``object.created`` CloudEvent on the in-process broker, which routes it by the routing
table to the same step functions the cluster runs behind functions-framework.
"""

from __future__ import annotations

from typing import Self

from deeplens.config import Settings
from deeplens.native_threads import cap_native_threads
from deeplens.pipeline.ingest import notification_event
from deeplens.pipeline.runner import StepRunner
from deeplens.pipeline.services import Services
from eventing.broker import LocalBroker
from eventing.delivery import DeliverySpec
from eventing.queue import DeliveryQueue


class LocalRuntime:
    """Services, step runner, durable queue and broker for one process."""

    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        cap_native_threads(settings.threads_per_worker)
        self.settings = settings
        self.services = services or Services.from_settings(settings)
        self.runner = StepRunner(self.services)
        self.queue = DeliveryQueue(self.services.db.pool, DeliverySpec.from_settings(settings), tenant=settings.tenant)
        self.broker = LocalBroker(self.queue, self.runner.run, workers=settings.workers,
                                  batch=settings.delivery_batch, dispatch_batch=self.runner.run_batch)
        self.services.store.subscribe(lambda record: self.broker.publish(notification_event(record, settings.tenant)))

    def close(self) -> None:
        """Stop background work and release the database."""
        self.broker.stop()
        self.services.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
