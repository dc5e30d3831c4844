"""Log setup: readable text on a terminal, or one JSON object per line (``DEEPLENS_LOG_FORMAT=json``).

Each line carries the step, event id, trace id, tenant and object key of the work at hand,
from a :mod:`contextvars` context that the step runner and the functions runtime set; a
context variable follows the thread (and asyncio task) that set it, so concurrent
deliveries on worker threads never see each other's fields. Messages are logged as the
code wrote them: nothing here reads headers or settings, so no credential reaches a line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

LogFormat = Literal["text", "json"]

FIELDS = ("step", "event_id", "trace_id", "tenant", "key")
"""The context fields every JSON line carries (empty when unset)."""

_context: ContextVar[Mapping[str, str]] = ContextVar("deeplens_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (names from :data:`FIELDS`) to every line logged inside the block; unset ones keep the outer value."""
    token = _context.set({**_context.get(), **{name: value for name, value in fields.items() if value is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def trace_id(traceparent: str | None) -> str:
    """The trace id of a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``), else empty."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, the context fields, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        context = _context.get()
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            **{name: context.get(name, "") for name in FIELDS},
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr in ``log_format``, replacing any handler set before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
