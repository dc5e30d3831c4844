"""``deeplens status``: where each uploaded object stands."""

from __future__ import annotations

import argparse

from deeplens.cli.common import load_settings, print_json, print_table
from deeplens.db import Database
from deeplens.results import Results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="processing status of uploaded objects")
    parser.add_argument("key", nargs="?", help="one object key (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database.from_settings(settings)
    try:
        results = Results(db, settings.tenant)
        items = [results.status(args.key)] if args.key else results.statuses(limit=100_000).items
    finally:
        db.close()
    items = [item for item in items if item is not None]
    if args.json:
        print_json(items)
        return 0
    if not items:
        print("No such object." if args.key else "Nothing uploaded yet.")
        return 1 if args.key else 0
    print_table(["key", "kind", "status", "in flight", "reason"],
                [[s.key, s.kind, s.status, s.in_flight, ", ".join(f.reason for f in s.failures)] for s in items])
    return 0
