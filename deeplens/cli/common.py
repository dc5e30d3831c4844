"""What every verb shares: settings, logging, printing tables and JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from deeplens.config import Settings
from deeplens.logs import configure_logging


def setup_logging(verbose: bool) -> None:
    """Warnings by default (progress bars carry the story); everything with ``-v``; text or JSON per ``DEEPLENS_LOG_FORMAT``."""
    configure_logging(load_settings().log_format, logging.INFO if verbose else logging.WARNING)


def load_settings() -> Settings:
    """Settings from the environment (``DEEPLENS_*``)."""
    return Settings()


def print_json(value: Any) -> None:
    """Print models, lists of models or plain data as indented JSON."""
    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json")
        if isinstance(item, list):
            return [plain(i) for i in item]
        return item
    print(json.dumps(plain(value), indent=2, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print an aligned plain-text table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def seconds(t: float) -> str:
    """``m:ss.s`` for a time in seconds."""
    minutes, rest = divmod(t, 60)
    return f"{int(minutes)}:{rest:04.1f}"
