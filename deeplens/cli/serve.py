"""``deeplens serve``: the results API plus the pipeline's workers, on embedded defaults."""

from __future__ import annotations

import argparse
import logging
import threading

import uvicorn

from deeplens import tracing
from deeplens.api import create_app
from deeplens.auth import AuthMisconfigured
from deeplens.cli.common import load_settings
from deeplens.errors import DeepLensError
from deeplens.runtime import LocalRuntime
from deeplens.search import SearchEngine

LOG = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the results API and process uploads")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--no-workers", action="store_true", help="serve the API only; do not process the queue")
    parser.set_defaults(run=run)


def serve(runtime: LocalRuntime, host: str, port: int, *, workers: bool = True) -> None:
    """Serve the API (blocking) while the broker works the queue in the background.

    With auth on and nothing to verify credentials with, it refuses to start (SystemExit)."""
    tracing.configure("deeplens-results")
    try:
        app = create_app(runtime.services, runtime.queue)
    except AuthMisconfigured as exc:
        raise SystemExit(f"deeplens serve: refusing to start: {exc}") from exc
    if workers:
        runtime.broker.start()
    # In the background: the service answers at once, and a text query asked meanwhile waits
    # for the same embedding (the mapper embeds once, under its lock) rather than repeat it.
    threading.Thread(target=_warm, args=(app.state.deeplens.engine,), name="warm-search", daemon=True).start()
    print(f"DeepLens results service: http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _warm(engine: SearchEngine) -> None:
    try:
        engine.warm()
    except (DeepLensError, OSError) as exc:  # the first text query then meets the same cause, as a clear error
        LOG.warning("could not ready text search at start: %s", exc)


def run(args: argparse.Namespace) -> int:
    with LocalRuntime(load_settings()) as runtime:
        serve(runtime, args.host, args.port, workers=not args.no_workers)
    return 0
