"""``python -m inference``: serve the configured model with KServe (Open Inference Protocol v2).

    DEEPLENS_MODEL=mobilenet_v2 python -m inference --http_port 8080

The model comes from the same ``DEEPLENS_*`` settings as the pipeline's in-process one
(:class:`deeplens.config.Settings`: ``DEEPLENS_MODEL``, ``DEEPLENS_MODEL_DIR`` — default
``/mnt/models`` where KServe mounts the ``storageUri`` —, ``DEEPLENS_DEVICE``,
``DEEPLENS_HALF``, ``DEEPLENS_BATCH_SIZE``, ``DEEPLENS_RESIZE_MODE``, ...); the options
below default to the model server's settings (``DEEPLENS_HTTP_PORT``,
``DEEPLENS_BATCH_WAIT_MS``, ``DEEPLENS_MAX_ITEMS_PER_REQUEST``). The model is served under
its registry name (``/v2/models/mobilenet_v2/infer``) and, with ``--model_name``, under
that name too.

Unlike plain kserve, gRPC is off unless ``--enable_grpc true``, and there is always one
server process (``--workers`` is ignored: the batcher lives in the process; scale with
replicas). Other kserve model-server flags (``--enable_latency_logging``, ``--grace_period``
...) pass through: ``kserve`` parses ``sys.argv`` itself when it is imported.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from deeplens.config import Settings


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "on", "t"):
        return True
    if value in ("0", "false", "no", "n", "off", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    """The options of ``python -m inference``, defaulting to ``settings``."""
    # allow_abbrev=False: kserve's own parser sees the same argv, so no option here may be
    # taken for an abbreviation of another (and ours are no prefix of any of kserve's).
    ap = argparse.ArgumentParser(
        prog="python -m inference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    ap.add_argument("--http_port", type=int, default=settings.http_port, help="default: DEEPLENS_HTTP_PORT, 8080")
    ap.add_argument("--grpc_port", type=int, default=8081)
    ap.add_argument("--enable_grpc", type=_bool, default=False, help="serve gRPC v2 too (default: false)")
    ap.add_argument("--model_name", default=None, help="an extra name to serve the model under")
    ap.add_argument(
        "--max_batch_size",
        type=int,
        default=None,
        help="rows per batched forward pass (default: DEEPLENS_BATCH_SIZE, 16)",
    )
    ap.add_argument(
        "--batch_wait_ms",
        type=float,
        default=settings.batch_wait_ms,
        help="how long the batcher waits for more requests before a forward pass (default: "
        "DEEPLENS_BATCH_WAIT_MS or 0 = batch whatever queued during the previous pass; a few ms can "
        "help on a GPU, where passes are short)",
    )
    ap.add_argument(
        "--max_items",
        type=int,
        default=settings.max_items_per_request,
        help="most images or texts one request may carry (default: DEEPLENS_MAX_ITEMS_PER_REQUEST, 256)",
    )
    return ap


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    args, _kserve_args = build_parser(settings).parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.max_batch_size is not None and args.max_batch_size < 1:
        raise SystemExit("--max_batch_size must be >= 1")
    if args.batch_wait_ms < 0:
        raise SystemExit("--batch_wait_ms must be >= 0")

    from .server import serve  # imports kserve, which parses sys.argv

    # The options win over the settings they default to.
    options = {"http_port": args.http_port, "batch_wait_ms": args.batch_wait_ms, "max_items_per_request": args.max_items}
    serve(
        settings.model_copy(update=options),
        grpc_port=args.grpc_port,
        enable_grpc=args.enable_grpc,
        aliases=[args.model_name] if args.model_name else [],
        max_batch_size=args.max_batch_size,
    )
    # The server has shut down cleanly (SIGTERM/SIGINT). Skip the interpreter's teardown of
    # torch, uvloop and grpc, which takes seconds and would delay a rolling update.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
