"""``deeplens reindex --model M``: backfill model M's vectors for every indexed product photo and frame.

Runs beside a live ``deeplens serve`` (other models keep serving); Ctrl-C stops after the
current batch and a later run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys

from deeplens.cli.common import load_settings
from deeplens.cli.progress import progress
from deeplens.errors import DeepLensError
from deeplens.pipeline.services import Services
from deeplens.search.hits import KIND_ITEMS
from deeplens.search.reindex import ReindexReport, reindex


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("reindex", help="embed every indexed product photo and frame with another model (resumable)")
    parser.add_argument("--model", required=True, help="model name (see `deeplens models`)")
    parser.add_argument("--kind", choices=["products", "frames", "all"], default="all", help="what to backfill")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass and transaction")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    services = Services.from_settings(load_settings())
    shown = progress(f"reindex {args.model}", "image")

    def reindexed(report: ReindexReport) -> None:
        shown.set(report.done + report.failed, report.total)

    try:
        report = reindex(services, args.model, kinds=KIND_ITEMS[args.kind], batch_size=args.batch_size, on_progress=reindexed)
    except DeepLensError as exc:
        raise SystemExit(f"deeplens reindex: {exc}") from exc
    except KeyboardInterrupt:
        print("\nInterrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        shown.close()
        services.close()
    print(f"{args.model}: {report.done} embedded, {report.failed} unreadable (see `deeplens failures`), "
          f"{report.total - report.done - report.failed} left.")
    for line in report.failures[:20]:
        print(f"  {line}", file=sys.stderr)
    return 0 if report.failed == 0 else 1
