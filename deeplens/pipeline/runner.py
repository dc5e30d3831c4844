"""Runs a step on an event: idempotency, bad-input recording, and step lookup by name."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from deeplens import metrics, tracing
from deeplens.db import processed
from deeplens.db.failures import record_failure
from deeplens.errors import BadInput, ObjectMissing
from deeplens.logs import log_context, trace_id
from deeplens.pipeline.services import Services
from eventing import routing
from eventing.events import Event

log = logging.getLogger(__name__)

Step = Callable[[Event, Services], list[Event]]

STEPS: dict[str, Step] = {step: importlib.import_module(f"deeplens.pipeline.{step}").handle for step in routing.STEPS}
"""Each step of the routing table is the ``handle`` of the pipeline module named after it."""


class StepRunner:
    """Calls steps by their routing-table name, the same way in every deployment."""

    def __init__(self, services: Services, steps: dict[str, Step] | None = None) -> None:
        self.services = services
        self.steps = STEPS if steps is None else steps

    def already_processed(self, step: str, event: Event) -> bool:
        """True when ``step`` completed this event before (a redelivery)."""
        with self.services.db.pool.connection() as conn:
            return processed.already_processed(conn, step, event.id)

    def mark_processed(self, step: str, event: Event) -> None:
        """Remember that ``step`` completed this event; call once its outputs are published."""
        with self.services.db.pool.connection() as conn:
            processed.mark_processed(conn, step, event.id)

    def run(self, step: str, event: Event) -> list[Event]:
        """Run ``step`` on ``event`` and return the events it emits.

        Bad input, and an object deleted since it was announced, are recorded as a
        failure of the upload the event descends from and emit nothing (retrying cannot
        help); any other exception propagates so the broker retries it (or, for
        :class:`~deeplens.errors.Undeliverable`, dead-letters it at once).
        """
        if step not in self.steps:
            raise KeyError(f"no step named {step!r}")
        key = event.rootkey or event.subject or ""
        # The step's span is a child of the event's trace context (ingest, from a bare bucket
        # notification, starts the trace); logs carry its trace id, or the event's with tracing off.
        with tracing.span(f"step {step}", traceparent=event.traceparent, tracestate=event.tracestate,
                          deeplens_step=step, deeplens_tenant=event.tenant, deeplens_key=key or None, cloudevents_event_id=event.id), \
                log_context(step=step, event_id=event.id, tenant=event.tenant, key=key,
                            trace_id=tracing.current_trace_id() or trace_id(event.traceparent) or None), \
                metrics.observe_step(step, event.type) as outcome:
            if self.already_processed(step, event):
                log.info("%s: event %s already processed; skipping", step, event.id)
                return []
            try:
                return self.steps[step](event, self.services)
            except BadInput as exc:
                outcome.reason = exc.reason
                self._record_failure(step, event, exc.reason, exc.message)
            except ObjectMissing as exc:
                outcome.reason = "object_missing"
                self._record_failure(step, event, "object_missing", f"deleted before {step} could read it: {exc}")
            return []

    def _record_failure(self, step: str, event: Event, reason: str, message: str) -> None:
        key = event.rootkey or event.subject or event.id
        log.warning("%s: bad input %s: %s: %s", step, key, reason, message)
        with self.services.db.transaction() as conn:
            record_failure(conn, event.tenant, key, step, reason, message, event.id)
