"""``deeplens ingest DIR``: upload a folder of products and videos into the bucket.

``DIR/products/<sku>/<photo>`` and ``DIR/videos/<video file>``. Uploading is what starts
the pipeline (the store announces each object); ``--wait`` also works the queue in this
process until every upload is processed or has failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from deeplens.cli.common import load_settings
from deeplens.db.failures import record_failure
from deeplens.runtime import LocalRuntime
from deeplens.storage.keys import product_key, video_key


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ingest", help="upload DIR/products/<sku>/* and DIR/videos/* and process them")
    parser.add_argument("dir", type=Path, help="folder with products/ and/or videos/")
    parser.add_argument("--wait", action="store_true", help="process in this process until everything is done or failed")
    parser.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    parser.set_defaults(run=run)


@dataclass
class Upload:
    """What a folder holds: files to upload and product folders with nothing in them."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    empty_products: list[str] = field(default_factory=list)


def scan_folder(root: Path, tenant: str) -> Upload:
    """The object keys a folder maps to in ``tenant``'s part of the bucket, by the bucket layout."""
    if not root.is_dir():
        raise SystemExit(f"deeplens ingest: {root} is not a folder")
    products, videos = root / "products", root / "videos"
    if not products.is_dir() and not videos.is_dir():
        raise SystemExit(f"deeplens ingest: {root} has neither products/ nor videos/ (see README: Using your own data)")
    upload = Upload()
    if products.is_dir():
        for folder in sorted(p for p in products.iterdir() if p.is_dir()):
            photos = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            if not photos:
                upload.empty_products.append(folder.name)
            upload.files.extend((product_key(tenant, folder.name, p.name), p) for p in photos)
    if videos.is_dir():
        upload.files.extend(
            (video_key(tenant, p.name), p) for p in sorted(videos.iterdir()) if p.is_file() and not p.name.startswith(".")
        )
    return upload


def wait_with_progress(runtime: LocalRuntime, timeout: float | None) -> bool:
    """Work the queue until idle, showing deliveries done out of those known so far."""
    bar = tqdm(desc="processing", unit="event", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
    start = runtime.queue.counts(runtime.settings.tenant)

    def tick() -> None:
        counts = runtime.queue.counts(runtime.settings.tenant)
        finished = sum(counts.get(s, 0) - start.get(s, 0) for s in ("done", "failed", "dead"))
        bar.total = finished + counts.get("pending", 0) + counts.get("running", 0)
        bar.n = finished
        bar.refresh()

    try:
        return runtime.broker.run_until_idle(tenant=runtime.settings.tenant, on_tick=tick, timeout=timeout)
    finally:
        bar.close()


def ingest_folder(runtime: LocalRuntime, root: Path, *, wait: bool, timeout: float | None = None) -> bool:
    """Upload a folder (recording empty product folders as failures); optionally wait. False on timeout."""
    upload = scan_folder(root, runtime.settings.tenant)
    with runtime.services.db.transaction() as conn:
        for sku in upload.empty_products:
            record_failure(conn, runtime.settings.tenant, product_key(runtime.settings.tenant, sku, ""), "ingest", "no_images",
                           f"product folder {sku!r} holds no images")
    for key, path in tqdm(upload.files, desc="uploading", unit="file", file=sys.stderr, dynamic_ncols=True):
        runtime.services.store.put_file(key, path)
    return wait_with_progress(runtime, timeout) if wait else True


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    started = time.monotonic()
    with LocalRuntime(settings) as runtime:
        finished = ingest_folder(runtime, args.dir, wait=args.wait, timeout=args.timeout)
        if not args.wait:
            print("Uploaded; a running `deeplens serve` (or `deeplens ingest --wait`) processes the queue.")
            return 0
        counts = runtime.queue.counts(settings.tenant)
    if not finished:
        print(f"Timed out after {args.timeout:.0f}s with work still in flight.", file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - started:.1f}s. Deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("See `deeplens appearances`, `deeplens failures`, `deeplens dlq list`.")
    return 0
