"""``deeplens collect MANIFEST``: download product photos and videos listed by URL into the bucket.

MANIFEST is CSV with a header (``sku,image_url`` rows, ``video_url[,video_id]`` rows) or
JSON lines with the same keys. Bad rows are reported, recorded (``deeplens failures``) and
skipped; the rest is uploaded, which starts the pipeline; ``--wait`` processes it here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deeplens.cli.common import load_settings
from deeplens.cli.ingest import wait_with_progress
from deeplens.cli.progress import progress
from deeplens.collect import Outcome, collect, read_manifest
from deeplens.errors import BadInput
from deeplens.runtime import LocalRuntime


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("collect", help="download products/videos listed in a CSV or JSON-lines manifest and process them")
    parser.add_argument("manifest", type=Path, help="CSV (sku,image_url | video_url[,video_id]) or JSON lines")
    parser.add_argument("--wait", action="store_true", help="process in this process until everything is done or failed")
    parser.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    parser.add_argument("--concurrency", type=int, default=None, help="downloads at once (default DEEPLENS_COLLECT_CONCURRENCY)")
    parser.add_argument("--max-bytes", type=int, default=None,
                        help="largest download (default DEEPLENS_MAX_IMAGE_BYTES / DEEPLENS_MAX_OBJECT_BYTES)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.manifest.is_file():
        raise SystemExit(f"deeplens collect: no file {args.manifest}")
    try:
        rows = read_manifest(args.manifest)
    except BadInput as exc:
        raise SystemExit(f"deeplens collect: {exc}") from exc
    settings = load_settings()
    with LocalRuntime(settings) as runtime:
        with progress("collecting", "row", len(rows)) as shown:

            def collected(outcome: Outcome) -> None:
                shown.advance()
                if not outcome.ok:
                    shown.write(f"skipped line {outcome.line}: {outcome.reason}: {outcome.message}")

            report = collect(runtime.services, rows, max_bytes=args.max_bytes, concurrency=args.concurrency,
                             on_outcome=collected)
        print(f"Uploaded {len(report.uploaded)} of {len(report.outcomes)} row(s); {len(report.failed)} skipped "
              "(see `deeplens failures`).")
        if args.wait:
            if not wait_with_progress(runtime, args.timeout):
                print(f"Timed out after {args.timeout:.0f}s with work still in flight.", file=sys.stderr)
                return 1
            print("Processed. See `deeplens appearances`, `deeplens failures`.")
        elif report.uploaded:
            print("A running `deeplens serve` (or `deeplens ingest --wait`) processes the queue.")
    return 0 if not report.failed else 1
