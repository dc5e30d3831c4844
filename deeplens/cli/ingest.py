"""``deeplens ingest DIR``: upload a folder of products and videos into the bucket.

``DIR/products/<sku>/<photo>`` and ``DIR/videos/<video file>``. Uploading is what starts
the pipeline (the store announces each object); ``--wait`` also works the queue in this
process until every upload is processed or has failed, then, when the catalog changed,
saves its index for the next process to load (``deeplens index build``). Files anywhere else in ``DIR`` are
not uploaded, and each is named, with why, on stderr; those inside ``products/`` or
``videos/`` (meant as uploads, but misplaced) are also recorded as ``outside_layout``
failures. Hidden files (``.DS_Store``) and files beside the two folders (a README, the
generator's ``truth.json``) are only named.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deeplens.cli.common import load_settings
from deeplens.cli.progress import progress
from deeplens.db.failures import record_failure
from deeplens.matching.snapshots import build_snapshot
from deeplens.runtime import LocalRuntime
from deeplens.storage.keys import product_key, video_key


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ingest", help="upload DIR/products/<sku>/* and DIR/videos/* and process them")
    parser.add_argument("dir", type=Path, help="folder with products/ and/or videos/")
    parser.add_argument("--wait", action="store_true", help="process in this process until everything is done or failed")
    parser.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Skipped:
    """A file left out of the upload: its path relative to the folder, and why."""

    path: str
    why: str
    misplaced: bool
    """Inside products/ or videos/ but not where the layout reads it: meant as an upload."""


@dataclass
class Upload:
    """What a folder holds: files to upload, product folders with nothing in them, and
    files outside the layout."""

    files: list[tuple[str, Path]] = field(default_factory=list)
    empty_products: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, root: Path, entry: Path, why: str, *, misplaced: bool = True) -> None:
        """Skip ``entry`` (the file itself, or every file under the folder); a hidden
        entry is never counted as misplaced."""
        hidden = entry.name.startswith(".")
        paths = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
        self.skipped.extend(
            Skipped(p.relative_to(root).as_posix(), "hidden file" if hidden else why, misplaced and not hidden) for p in paths
        )


def scan_folder(root: Path, tenant: str) -> Upload:
    """The object keys a folder maps to in ``tenant``'s part of the bucket, by the bucket layout."""
    if not root.is_dir():
        raise SystemExit(f"deeplens ingest: {root} is not a folder")
    products, videos = root / "products", root / "videos"
    if not products.is_dir() and not videos.is_dir():
        raise SystemExit(f"deeplens ingest: {root} has neither products/ nor videos/ (see docs/using.md)")
    upload = Upload()
    for entry in sorted(root.iterdir()):
        if entry not in (products, videos):
            upload.skip(root, entry, "outside products/ and videos/", misplaced=False)
    if products.is_dir():
        for folder in sorted(products.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                upload.skip(root, folder, "product photos go in products/<sku>/")
                continue
            photos = []
            for p in sorted(folder.iterdir()):
                if p.name.startswith(".") or not p.is_file():
                    upload.skip(root, p, "folders inside a product folder are not read")
                else:
                    photos.append(p)
            if not photos:
                upload.empty_products.append(folder.name)
            upload.files.extend((product_key(tenant, folder.name, p.name), p) for p in photos)
    if videos.is_dir():
        for p in sorted(videos.iterdir()):
            if p.name.startswith(".") or not p.is_file():
                upload.skip(root, p, "videos go directly in videos/")
            else:
                upload.files.append((video_key(tenant, p.name), p))
    return upload


def report_skipped(upload: Upload) -> None:
    """Name every file the upload leaves out, with why, on stderr."""
    if upload.skipped:
        print(f"deeplens ingest: skipped {len(upload.skipped)} file(s) outside the layout:", file=sys.stderr)
        for skipped in upload.skipped:
            print(f"  {skipped.path}: {skipped.why}", file=sys.stderr)


COUNT_INTERVAL = 1.0
"""Seconds between the progress display's counts of the queue: counting reads every delivery
of the tenant, which at 5,000 SKUs took a tenth of a core when done at the poll's ten a second."""


def wait_with_progress(runtime: LocalRuntime, timeout: float | None) -> bool:
    """Work the queue until idle, showing deliveries done out of those known so far."""
    tenant = runtime.settings.tenant
    start = runtime.queue.counts(tenant)
    counted_at: float | None = None
    with progress("processing", "event") as shown:

        def show_counts() -> None:
            nonlocal counted_at
            counted_at = time.monotonic()
            counts = runtime.queue.counts(tenant)
            finished = sum(counts.get(s, 0) - start.get(s, 0) for s in ("done", "failed", "dead"))
            shown.set(finished, finished + counts.get("pending", 0) + counts.get("running", 0))

        def tick() -> None:
            if counted_at is None or time.monotonic() - counted_at >= COUNT_INTERVAL:
                show_counts()

        idle = runtime.broker.run_until_idle(tenant=tenant, on_tick=tick, timeout=timeout)
        show_counts()  # the final figures, however recently the last tick counted
        return idle


def ingest_folder(runtime: LocalRuntime, root: Path, *, wait: bool, timeout: float | None = None) -> bool:
    """Upload a folder (recording empty product folders and misplaced files as failures,
    and naming every skipped file on stderr); optionally wait. False on timeout.

    With ``wait`` the workers start before the first upload, so the pipeline runs while the
    rest are still uploading.
    """
    upload = scan_folder(root, runtime.settings.tenant)
    report_skipped(upload)
    with runtime.services.db.transaction() as conn:
        for sku in upload.empty_products:
            record_failure(conn, runtime.settings.tenant, product_key(runtime.settings.tenant, sku, ""), "ingest", "no_images",
                           f"product folder {sku!r} holds no images")
        for skipped in upload.skipped:
            if skipped.misplaced:
                record_failure(conn, runtime.settings.tenant, skipped.path, "ingest", "outside_layout",
                               f"{skipped.path} was not uploaded: {skipped.why}")
    with runtime.broker.working() if wait else contextlib.nullcontext():
        with progress("uploading", "file", len(upload.files)) as shown:
            for key, path in upload.files:
                runtime.services.store.put_file(key, path)
                shown.advance()
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
        if finished and (args.dir / "products").is_dir():
            # The next process to match starts from this index instead of building its own.
            build_snapshot(runtime.services.db, runtime.services.store, settings.tenant, min_changed=1)
    if not finished:
        print(f"Timed out after {args.timeout:.0f}s with work still in flight.", file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - started:.1f}s. Deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("See `deeplens appearances`, `deeplens failures`, `deeplens dlq list`.")
    return 0
