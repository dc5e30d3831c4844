"""Runs a step on an event: idempotency, bad-input recording, and step lookup by name."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from deeplens import metrics, tracing
from deeplens.db import processed
from deeplens.db.failures import record_failure
from deeplens.errors import BadInput, ObjectMissing
from deeplens.logs import log_context, trace_id
from deeplens.pipeline.batching import Batched
from deeplens.pipeline.services import Services
from eventing import routing
from eventing.events import Event

log = logging.getLogger(__name__)

Step = Callable[[Event, Services], list[Event]]


_MODULES = {step: importlib.import_module(f"deeplens.pipeline.{step}") for step in routing.STEPS}
STEPS: dict[str, Step] = {step: module.handle for step, module in _MODULES.items()}
"""Each step of the routing table is the ``handle`` of the pipeline module named after it."""
BATCHED: dict[tuple[str, str], Batched] = {
    (step, event_type): batched for step, module in _MODULES.items() for event_type, batched in getattr(module, "BATCHED", {}).items()
}
"""A step module's ``BATCHED`` (event type → :class:`Batched`): the event types it takes several of at once."""

Outcome = list[Event] | Exception
"""What running a step on one event of a batch gave: its output events, or the error to retry it for."""


class StepRunner:
    """Calls steps by their routing-table name, the same way in every deployment."""

    def __init__(self, services: Services, steps: dict[str, Step] | None = None,
                 batched: dict[tuple[str, str], Batched] | None = None) -> None:
        self.services = services
        self.steps = STEPS if steps is None else steps
        self.batched = (BATCHED if steps is None else {}) if batched is None else batched

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
        return self._run_one(step, event, self._step(step))

    def run_batch(self, step: str, events: list[Event]) -> list[Outcome]:
        """Run ``step`` on several events of one type and tenant; each one's outcome, in order.

        Where the step takes that type in batches (:class:`Batched`), each event is prepared
        as :meth:`run` would run it, and the prepared ones are stored together; where that
        fails for several, each is stored alone, so one event's fault stays its own.
        Otherwise each event runs alone. Which were processed before is asked once for all.
        """
        handle = self._step(step)
        with self.services.db.pool.connection() as conn:
            done = processed.processed_among(conn, step, [event.id for event in events])
        batched = self.batched.get((step, events[0].type)) if events else None
        if batched is None:
            return [self._outcome(lambda e=event: self._run_one(step, e, handle, done=e.id in done)) for event in events]
        prepared: dict[int, Any] = {}

        def prepare(number: int, event: Event) -> list[Event]:
            prepared[number] = batched.prepare(event, self.services)
            return []  # its events come from storing it

        outcomes: list[Outcome] = [
            self._outcome(lambda n=number, e=event: self._run_one(step, e, lambda ev, _: prepare(n, ev), done=e.id in done))
            for number, event in enumerate(events)
        ]
        numbers = sorted(prepared)
        stored = self._outcome(lambda: batched.store([prepared[n] for n in numbers], self.services))
        if isinstance(stored, Exception) and len(numbers) > 1:
            stored = [self._outcome(lambda n=n: batched.store([prepared[n]], self.services)[0]) for n in numbers]
        for position, number in enumerate(numbers):
            outcomes[number] = stored if isinstance(stored, Exception) else stored[position]
        return outcomes

    @staticmethod
    def _outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the broker retries (or dead-letters) each event on its own
            return exc

    def _step(self, step: str) -> Step:
        if step not in self.steps:
            raise KeyError(f"no step named {step!r}")
        return self.steps[step]

    def _run_one(self, step: str, event: Event, handle: Step, *, done: bool | None = None) -> list[Event]:
        """``handle`` the event in the step's context; ``done``: whether it was processed before, where known."""
        with self._context(step, event) as outcome:
            if self.already_processed(step, event) if done is None else done:
                log.info("%s: event %s already processed; skipping", step, event.id)
                return []
            try:
                return handle(event, self.services)
            except BadInput as exc:
                outcome.reason = exc.reason
                self._record_failure(step, event, exc.reason, exc.message)
            except ObjectMissing as exc:
                outcome.reason = "object_missing"
                self._record_failure(step, event, "object_missing", f"deleted before {step} could read it: {exc}")
            return []

    @contextmanager
    def _context(self, step: str, event: Event) -> Iterator[metrics.StepOutcome]:
        """The step's span, log fields and metrics for one event."""
        key = event.rootkey or event.subject or ""
        # The step's span is a child of the event's trace context (ingest, from a bare bucket
        # notification, starts the trace); logs carry its trace id, or the event's with tracing off.
        with tracing.span(f"step {step}", traceparent=event.traceparent, tracestate=event.tracestate,
                          deeplens_step=step, deeplens_tenant=event.tenant, deeplens_key=key or None, cloudevents_event_id=event.id), \
                log_context(step=step, event_id=event.id, tenant=event.tenant, key=key,
                            trace_id=tracing.current_trace_id() or trace_id(event.traceparent) or None), \
                metrics.observe_step(step, event.type) as outcome:
            yield outcome

    def _record_failure(self, step: str, event: Event, reason: str, message: str) -> None:
        key = event.rootkey or event.subject or event.id
        log.warning("%s: bad input %s: %s: %s", step, key, reason, message)
        with self.services.db.transaction() as conn:
            record_failure(conn, event.tenant, key, step, reason, message, event.id)
