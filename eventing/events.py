"""The CloudEvent envelope DeepLens steps exchange (CloudEvents 1.0, structured JSON form)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deeplens import tracing
from deeplens.errors import BadInput

SPEC_VERSION = "1.0"
# Child event ids are derived from their parent's, so a step that runs twice emits the
# same ids and the broker's (event id, subscriber) uniqueness makes the rerun a no-op.
_ID_NAMESPACE = uuid.UUID("6f1c2d1e-0d5e-4c4b-9a53-6a1f3c0de7e5")
_REQUIRED = ("id", "source", "type", "specversion")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """One CloudEvent. ``tenant``, ``rootkey``, ``traceparent`` and ``tracestate`` travel as extension attributes.

    ``rootkey`` is the uploaded object an event descends from, so the status of an
    upload is "are any of its descendants still in flight". ``traceparent`` and
    ``tracestate`` are the CloudEvents distributed-tracing extension (W3C trace context).
    """

    type: str
    source: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    subject: str | None = None
    time: str = field(default_factory=_now)
    tenant: str = "default"
    rootkey: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    def child(
        self, type: str, data: dict[str, Any], *, source: str, key: str, subject: str | None = None,
        rootkey: str | None = None, tenant: str | None = None,
    ) -> Event:
        """An event caused by this one, with a deterministic id (``key`` tells siblings apart).

        It inherits tenant and root key; ``rootkey`` sets the root where this event starts
        one, and ``tenant`` the tenant where the object it starts from names another. Its
        trace context is the current span's where one is recorded (the step handling this
        event), else this event's, so a trace passes through a process that records none.
        """
        trace = tracing.current_headers() or {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return Event(
            type=type,
            source=source,
            data=data,
            id=str(uuid.uuid5(_ID_NAMESPACE, f"{self.id}/{type}/{key}")),
            subject=subject,
            tenant=tenant or self.tenant,
            rootkey=rootkey or self.rootkey,
            traceparent=trace.get("traceparent"),
            tracestate=trace.get("tracestate"),
        )

    def attributes(self) -> dict[str, str]:
        """Context attributes (everything but ``data``), as CloudEvents HTTP bindings carry them."""
        attrs = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "datacontenttype": "application/json",
            "tenant": self.tenant,
        }
        if self.subject is not None:
            attrs["subject"] = self.subject
        if self.rootkey is not None:
            attrs["rootkey"] = self.rootkey
        if self.traceparent is not None:
            attrs["traceparent"] = self.traceparent
        if self.tracestate is not None:
            attrs["tracestate"] = self.tracestate
        return attrs

    def to_json(self) -> dict[str, Any]:
        """The structured-mode JSON document."""
        return {**self.attributes(), "data": self.data}

    @classmethod
    def from_parts(cls, attributes: dict[str, Any], data: Any) -> Event:
        """Build from CloudEvent attributes and data; :class:`BadInput` when malformed."""
        missing = [name for name in _REQUIRED if not attributes.get(name)]
        if missing:
            raise BadInput("malformed_event", f"CloudEvent lacks required attribute(s): {', '.join(missing)}")
        if attributes["specversion"] != SPEC_VERSION:
            raise BadInput("malformed_event", f"unsupported CloudEvents specversion {attributes['specversion']!r}")
        if not isinstance(data, dict):
            raise BadInput("malformed_event", "CloudEvent data must be a JSON object")
        return cls(
            type=str(attributes["type"]),
            source=str(attributes["source"]),
            data=data,
            id=str(attributes["id"]),
            subject=attributes.get("subject"),
            time=str(attributes.get("time") or _now()),
            tenant=str(attributes.get("tenant") or "default"),
            rootkey=attributes.get("rootkey"),
            traceparent=attributes.get("traceparent") or None,
            tracestate=attributes.get("tracestate") or None,
        )

    @classmethod
    def from_json(cls, document: Any) -> Event:
        """Parse a structured-mode JSON document."""
        if not isinstance(document, dict):
            raise BadInput("malformed_event", "a CloudEvent must be a JSON object")
        attributes = {name: value for name, value in document.items() if name not in ("data", "data_base64")}
        return cls.from_parts(attributes, document.get("data"))
